"""Fixtures of the payments tests: the bank simulator as a real process, the payment worker.

The simulator's address and the provider timeouts are put in the environment when this module
is imported, i.e. before any fixture starts a subprocess (workers, the API server), so every
process of the session talks to the same simulator.
"""

import contextlib
import os
import sys
import time
import uuid
from pathlib import Path

import httpx
import pytest
from django.conf import settings
from rest_framework.test import APIClient

from infrastructure.processes import ManagedProcess, free_port, url_answers
from registration_worker.models import Booking
from tests.conftest import WorkerProcess, create_seated_event

BANK_PORT = free_port()
BANK_URL = f"http://127.0.0.1:{BANK_PORT}"
PROVIDER_TIMEOUT = 1.5  # seconds; the simulator's "timeout" answers take longer than this
os.environ["PAYMENT_PROVIDER_URL"] = BANK_URL
os.environ["PAYMENT_PROVIDER_TIMEOUT"] = str(PROVIDER_TIMEOUT)
os.environ["PAYMENT_RETRY_BACKOFF_MAX"] = "2"

BANK_DEFAULTS = {
    "latency_ms": 0,
    "decline_rate": 0,
    "timeout_rate": 0,
    "timeout_ms": 4000,
    "duplicate_rate": 0,
}
DECLINED_CARD = "4000000000000002"


class BankProcess(ManagedProcess):
    """``python -m bank_simulator`` on its own port and ledger file; stop it to take it down."""

    def __init__(self, port: int, ledger: Path, log_path: Path):
        self.port, self.ledger_path = port, ledger
        self.url = f"http://127.0.0.1:{port}"
        super().__init__(
            [
                *(sys.executable, "-m", "bank_simulator"),
                *("--port", str(port), "--ledger", str(ledger)),
            ],
            log_path=log_path,
        )

    def start(self) -> "BankProcess":
        return super().start(url_answers(f"{self.url}/health"), timeout=20)

    def stop(self) -> None:
        super().stop(timeout=10)

    def configure(self, **changes) -> dict:
        return httpx.post(f"{self.url}/config", json=changes, timeout=5).json()

    def token(self, card_number: str = "4242424242424242") -> str:
        response = httpx.post(f"{self.url}/tokens", json={"card_number": card_number}, timeout=5)
        return response.json()["token"]

    def ledger(self) -> dict:
        return httpx.get(f"{self.url}/ledger", timeout=5).json()

    def charges_for(self, booking_id) -> list[dict]:
        return [c for c in self.ledger()["charges"] if c["idempotency_key"] == str(booking_id)]

    def net_charged(self, booking_id) -> int:
        """Minor units the bank kept for this booking: approved charges minus their refunds."""
        ledger = self.ledger()
        charges = [
            c
            for c in ledger["charges"]
            if c["idempotency_key"] == str(booking_id) and c["status"] == "approved"
        ]
        ids = {c["id"] for c in charges}
        refunded = sum(r["amount"] for r in ledger["refunds"] if r["charge"] in ids)
        return sum(c["amount"] for c in charges) - refunded


@pytest.fixture(scope="session")
def bank(artifacts_dir):
    ledger = artifacts_dir / f"bank-ledger-{os.getpid()}.sqlite3"
    for path in ledger.parent.glob(f"{ledger.name}*"):
        path.unlink()
    process = BankProcess(BANK_PORT, ledger, artifacts_dir / "bank-simulator.log").start()
    yield process
    process.stop()


@pytest.fixture(autouse=True)
def bank_defaults(bank):
    """Every test starts with a well-behaved bank, reachable from this process too.

    After the test the bank is brought back, so that the workers can finish what the test
    started before ``settle_workers`` (tests/conftest.py) lets the teardown empty the tables.
    """
    if not bank.running:
        bank.start()
    bank.configure(**BANK_DEFAULTS)
    settings.PAYMENT_PROVIDER_URL = BANK_URL
    settings.PAYMENT_PROVIDER_TIMEOUT = PROVIDER_TIMEOUT
    yield
    if not bank.running:
        bank.start()


def _purge(queue: str) -> None:
    from ticketing.celery import app

    # Not declared yet (first run on this vhost): nothing to purge.
    with app.connection_for_write() as conn, contextlib.suppress(Exception):
        conn.default_channel.queue_purge(queue)


@pytest.fixture(scope="session")
def payment_worker(django_db_setup, django_db_blocker, artifacts_dir, bank):
    """The payment worker (``-Q payments``) for the whole session, on the test database.

    As in infrastructure/Procfile: one process, a thread per charge in flight (8 here, within
    the default database pool of 10 connections).
    """
    _purge("payments")
    worker = WorkerProcess(
        "payments", artifacts_dir / "worker-payments.log", concurrency=8, pool="threads"
    )
    yield worker.start()
    worker.stop()


# --- data and steps ------------------------------------------------------------------------


def quick_users(count: int) -> list:
    """Buyers without a password hash (hashing costs about 0.3 s a user)."""
    from django.contrib.auth import get_user_model

    model = get_user_model()
    prefix = uuid.uuid4().hex[:8]
    model.objects.bulk_create(
        model(username=f"payer-{prefix}-{i}", email=f"payer-{prefix}-{i}@example.com")
        for i in range(count)
    )
    return list(model.objects.filter(username__startswith=f"payer-{prefix}-").order_by("id"))


def create_paid_event(organizer, **fields):
    """A seated event on sale whose buyers pay (45.00 EUR a seat)."""
    return create_seated_event(organizer, requires_payment=True, **fields)


def client_of(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def hold(client, event, seats) -> str:
    response = client.post(f"/api/v1/events/{event.pk}/holds/", {"seats": seats}, format="json")
    assert response.status_code == 201, response.content
    return response.json()["id"]


def register(client, hold_id, token=None, key=None):
    body = {"hold": hold_id}
    if token is not None:
        body["payment_token"] = token
    return client.post(
        "/api/v1/registrations/",
        body,
        format="json",
        HTTP_IDEMPOTENCY_KEY=key or uuid.uuid4().hex,
    )


def wait_for_booking(booking_id, statuses=("confirmed", "failed"), timeout=30) -> Booking:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        booking = Booking.objects.get(pk=booking_id)
        if booking.status in statuses:
            return booking
        time.sleep(0.05)
    raise AssertionError(f"booking {booking_id} still {booking.status}, not {statuses}")


def wait_until(predicate, timeout=20, message="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {message}")
