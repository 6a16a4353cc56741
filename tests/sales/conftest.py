"""Fixtures of the sales read model tests: the projector as a real Celery worker on ``sales``,
and (from the payments tests, started only when a test asks) the bank simulator and the payment
worker, for a sale with approved, declined and refunded payments."""

import contextlib
import os

import httpx
import pytest
from django.conf import settings

from tests.auth.conftest import keycloak  # noqa: F401 (fixture)
from tests.auth.test_keycloak_browser_login import LIVE_ADDRESS
from tests.conftest import WorkerProcess
from tests.payments.conftest import (
    BANK_DEFAULTS,
    BANK_PORT,
    BANK_URL,
    PROVIDER_TIMEOUT,
    BankProcess,
)


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1).status_code < 500
    except httpx.HTTPError:
        return False


@pytest.fixture(scope="session")
def sales_bank(artifacts_dir):
    """The bank simulator on the payments tests' port: theirs if this session started it (their
    fixture lives in tests/payments/, out of reach here), else one of our own."""
    ledger = artifacts_dir / f"bank-ledger-sales-{os.getpid()}.sqlite3"
    process = BankProcess(BANK_PORT, ledger, artifacts_dir / "bank-simulator.log")
    if _answers(f"{BANK_URL}/health"):
        yield process
        return
    yield process.start()
    process.stop()


@pytest.fixture(scope="session")
def keycloak_live_server(django_db_setup, django_db_blocker):
    """The live server on the address the realm allows (tests/auth's, if it already runs in this
    session: a second server cannot bind the same port)."""
    from pytest_django.live_server_helper import LiveServer

    url = f"http://{LIVE_ADDRESS}"
    if _answers(f"{url}/healthz"):
        yield type("Running", (), {"url": url})()
        return
    with django_db_blocker.unblock():
        server = LiveServer(LIVE_ADDRESS)
    yield server
    server.stop()


@pytest.fixture
def paying_bank(sales_bank):
    """The bank simulator, well-behaved, and this process's provider settings pointing at it."""
    bank = sales_bank
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
def payment_worker(django_db_setup, artifacts_dir, paying_bank):
    """A payment worker for one test (the payments tests keep their own for the session)."""
    purge("payments")
    worker = WorkerProcess(
        "payments", artifacts_dir / "worker-payments.log", concurrency=4, pool="threads"
    ).start()
    yield worker
    worker.stop()


@pytest.fixture
def projector(django_db_setup, artifacts_dir):
    """The ``projector`` process of the Procfile (one at a time, in order), for one test."""
    purge("sales")
    worker = WorkerProcess(
        "sales", artifacts_dir / "worker-sales.log", concurrency=1, pool="threads"
    )
    yield worker
    worker.stop()
    purge("sales", "notifications")
