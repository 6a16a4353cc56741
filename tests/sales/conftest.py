"""Fixtures of the sales read model tests: the projector as a real Celery worker on ``sales``.

The bank simulator and the payment worker come from the payments tests (a paid sale has
approvals, declines and refunds).
"""

import contextlib

import pytest

from tests.conftest import WorkerProcess
from tests.payments.conftest import bank, bank_defaults, payment_worker  # noqa: F401


def purge(*queues: str) -> None:
    from ticketing.celery import app

    for queue in queues:
        # Not declared yet on this vhost: nothing to purge.
        with app.connection_for_write() as conn, contextlib.suppress(Exception):
            conn.default_channel.queue_purge(queue)


@pytest.fixture
def projector(django_db_setup, artifacts_dir):
    """The ``projector`` process of the Procfile (one at a time, in order), for one test."""
    purge("sales")
    worker = WorkerProcess("sales", artifacts_dir / "worker-sales.log", concurrency=1)
    yield worker
    worker.stop()
    purge("sales", "notifications")
