"""The circuit breaker on the payment provider (payments/breaker.py), against the real bank
simulator and the real payment worker: a bank that keeps failing is left alone for a
cool-down, the bookings wait in ``pending_payment``, and the saga resumes by itself."""

import threading
import uuid
from decimal import Decimal

import pybreaker
import pytest
from django.conf import settings

from payments import breaker
from payments.models import PaymentAttempt
from payments.providers.bank_simulator import BankSimulatorProvider
from registration_worker.models import Booking
from tests.conftest import seat_ids
from tests.payments.conftest import (
    client_of,
    create_paid_event,
    hold,
    register,
    wait_for_booking,
    wait_until,
)

pytestmark = pytest.mark.django_db(transaction=True)


def _circuit_state() -> str:
    """The state every process reads from Redis (a fresh breaker, as another process has)."""
    storage = pybreaker.CircuitRedisStorage(
        pybreaker.STATE_CLOSED,
        breaker.redis_client(settings.REDIS_URL),
        namespace="payments:provider",
    )
    return storage.state


# Rerun once: counts consecutive unanswered calls within a time window on a loaded machine (timing).
@pytest.mark.flaky(reruns=1)
def test_a_failing_bank_opens_the_circuit_bookings_wait_and_resume(
    bank, payment_worker, make_user, organizer
):
    # given a paid event and the bank down
    event = create_paid_event(organizer, rows=1, seats_per_row=6)
    seats = seat_ids(event)
    tokens = [bank.token() for _ in range(3)]
    bank.stop()
    # when three buyers register (the worker's charges and retries find no bank)
    bookings = []
    for i, token in enumerate(tokens):
        client = client_of(make_user())
        response = register(client, hold(client, event, seats[2 * i : 2 * i + 2]), token=token)
        assert response.status_code == 201, response.content
        bookings.append(response.json()["id"])
    # then after the failures in a row the circuit opens, for every process
    wait_until(lambda: _circuit_state() == "open", timeout=30, message="the circuit to open")
    # and later attempts are answered without calling the bank
    wait_until(
        lambda: PaymentAttempt.objects.filter(
            booking_id__in=bookings, detail=breaker.CIRCUIT_OPEN
        ).exists(),
        timeout=30,
        message="a call refused by the open circuit",
    )
    # while the bookings keep their seats, waiting for their payment
    assert set(Booking.objects.filter(pk__in=bookings).values_list("status", flat=True)) == {
        "pending_payment"
    }
    # when the bank comes back, the cool-down's trial call closes the circuit and every
    # booking is paid, each charged once
    bank.start()
    for booking_id in bookings:
        assert wait_for_booking(booking_id, timeout=60).status == "confirmed"
        assert len(bank.charges_for(booking_id)) == 1
    assert _circuit_state() == "closed"


def test_a_closed_circuit_lets_a_processs_bank_calls_run_side_by_side(bank):
    # given a bank answering in 300 ms and one process's provider behind the breaker
    bank.configure(latency_ms=300)
    provider = breaker.GuardedProvider(BankSimulatorProvider())
    token = bank.token()
    results, peak = [], [0]
    done = threading.Event()

    def watch_the_bank():
        while not done.is_set():
            peak[0] = max(peak[0], bank.ledger()["in_flight"])

    def charge():
        results.append(provider.charge(Decimal("10.00"), "EUR", token, uuid.uuid4().hex))

    # when eight threads charge at once
    watcher = threading.Thread(target=watch_the_bank)
    watcher.start()
    charges = [threading.Thread(target=charge) for _ in range(8)]
    for thread in charges:
        thread.start()
    for thread in charges:
        thread.join()
    done.set()
    watcher.join()
    # then the bank had several of them at once (one at a time before), each answered
    assert peak[0] >= 4, peak[0]
    assert [r.outcome for r in results] == ["approved"] * 8
    assert _circuit_state() == "closed"
