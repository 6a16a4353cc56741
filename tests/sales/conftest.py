"""Fixtures of the sales read model tests: the projector as a real Celery worker on ``sales``,
and (from the payments tests, started only when a test asks) the bank simulator and the payment
worker, for a sale with approved, declined and refunded payments."""

import contextlib

import pytest
from django.conf import settings

from tests.auth.conftest import keycloak  # noqa: F401 (fixture)
from tests.auth.test_keycloak_browser_login import keycloak_live_server  # noqa: F401 (fixture)
from tests.conftest import WorkerProcess
from tests.payments.conftest import (  # noqa: F401 (fixtures)
    BANK_DEFAULTS,
    BANK_URL,
    PROVIDER_TIMEOUT,
    bank,
    payment_worker,
)


@pytest.fixture
def paying_bank(bank):  # noqa: F811
    """The bank simulator, well-behaved, and this process's provider settings pointing at it."""
    bank.configure(**BANK_DEFAULTS)
    settings.PAYMENT_PROVIDER_URL = BANK_URL
    settings.PAYMENT_PROVIDER_TIMEOUT = PROVIDER_TIMEOUT
    return bank


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
