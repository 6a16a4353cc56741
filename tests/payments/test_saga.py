"""The payment saga end to end: real broker, payment worker, bank simulator, PostgreSQL, Redis.

Registrations run through the API in this process (simple flow); the ChargeBooking command
goes through the outbox relay and RabbitMQ to the payment worker, which talks HTTP to the bank.
"""

from decimal import Decimal

import httpx
import pytest
from asgiref.sync import async_to_sync, sync_to_async
from channels.testing import WebsocketCommunicator
from django.test import Client

from payments.models import Payment, PaymentAttempt
from registration_worker.models import OutboxMessage, Ticket
from shared.contracts import ChargeBooking
from shared.locks import seat_locks
from shared.messaging import CHARGE_BOOKING_TASK, PAYMENTS_QUEUE
from tests.conftest import seat_ids
from tests.payments.conftest import (
    DECLINED_CARD,
    client_of,
    create_paid_event,
    hold,
    register,
    wait_for_booking,
    wait_until,
)
from ticketing.asgi import application

pytestmark = pytest.mark.django_db(transaction=True)

ORIGIN = (b"origin", b"http://localhost:8000")


def _book(bank, event, buyer, seats, card="4242424242424242"):
    client = client_of(buyer)
    response = register(client, hold(client, event, seats), token=bank.token(card))
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["status"] == "pending_payment"  # the simple flow answers before the charge
    assert len(body["tickets"]) == len(seats)
    return client, body


def _session(user) -> tuple[bytes, bytes]:
    client = Client()
    client.force_login(user)
    return (b"cookie", f"sessionid={client.cookies['sessionid'].value}".encode())


def _steps(booking_id):
    return list(PaymentAttempt.objects.filter(booking_id=booking_id).values_list("step", "outcome"))


def _topics(booking_id):
    return list(
        OutboxMessage.objects.filter(payload__booking_id=str(booking_id)).values_list(
            "topic", flat=True
        )
    )


def _seats_on_sale(event, seats):
    held, sold, _ = seat_locks().seat_statuses(event.pk, seats)
    return not (set(seats) & (held | sold))


def test_approved_charge_confirms_the_booking(bank, payment_worker, make_user, organizer):
    # given a paid event and a buyer with a card token
    event = create_paid_event(organizer)
    seats = seat_ids(event)[:2]
    client, body = _book(bank, event, make_user(), seats)
    # then the registration reports pending_payment until the worker charged the card
    status = client.get(f"/api/v1/registrations/{body['tracking_id']}/").json()
    assert status["status"] in ("pending_payment", "confirmed")
    booking = wait_for_booking(body["id"])
    assert booking.status == "confirmed"
    assert booking.confirmed_at is not None
    assert client.get(f"/api/v1/registrations/{body['tracking_id']}/").json()["status"] == (
        "confirmed"
    )
    # and the bank charged exactly once, the booking's total, under the booking's id
    [charge] = bank.charges_for(booking.pk)
    assert (charge["status"], charge["amount"], charge["currency"]) == ("approved", 9000, "EUR")
    payment = Payment.objects.get(booking=booking)
    assert payment.status == "approved"
    assert payment.provider_reference == charge["id"]
    assert payment.token_ref.startswith("tok_")
    assert payment.amount == Decimal("90.00")
    assert payment.commission + payment.organizer_share == payment.amount
    assert _steps(booking.pk) == [("charge", "approved"), ("confirm", "done")]
    # and the outbox told the buyer (email + push) after the charge, the seats stay sold
    assert _topics(booking.pk) == ["ChargeBooking", "BookingConfirmed"]
    assert not _seats_on_sale(event, seats)


def test_declined_charge_compensates(bank, payment_worker, make_user, organizer):
    event = create_paid_event(organizer)
    seats = seat_ids(event)[:3]
    buyer = make_user()

    async def scenario():
        # given the buyer watches /ws/me/
        socket = WebsocketCommunicator(
            application, "/ws/me/", headers=[ORIGIN, await sync_to_async(_session)(buyer)]
        )
        assert (await socket.connect())[0]
        try:
            # when the buyer's card is declined
            _, body = await sync_to_async(_book)(bank, event, buyer, seats, DECLINED_CARD)
            # then the socket tells them: pending_payment, then failed with the reason
            updates = []
            while not updates or updates[-1]["status"] != "failed":
                message = await socket.receive_json_from(timeout=20)
                if message["type"] == "booking" and message["booking"]["booking_id"] == body["id"]:
                    updates.append(message["booking"])
            return body, updates
        finally:
            await socket.disconnect()

    body, updates = async_to_sync(scenario)()
    assert updates[-1]["reason"] == "payment_declined"
    assert "pending_payment" in [u["status"] for u in updates]
    booking = wait_for_booking(body["id"])
    # and the booking failed with the reason, its tickets are cancelled, nothing was kept
    assert (booking.status, booking.failure_reason) == ("failed", "payment_declined")
    assert set(Ticket.objects.filter(booking=booking).values_list("status", flat=True)) == {
        "cancelled"
    }
    assert [c["status"] for c in bank.charges_for(booking.pk)] == ["declined"]
    assert bank.net_charged(booking.pk) == 0
    assert Payment.objects.get(booking=booking).status == "declined"
    assert _steps(booking.pk) == [("charge", "declined"), ("compensate", "done")]
    assert _topics(booking.pk) == ["ChargeBooking", "BookingFailed"]
    # and the seats are on sale again: in Redis, and for another buyer
    assert _seats_on_sale(event, seats)
    other = client_of(make_user())
    assert register(other, hold(other, event, seats), token=bank.token()).status_code == 201


def test_timeout_then_lookup_approves_with_one_charge(bank, payment_worker, make_user, organizer):
    # given a bank that records the charge but answers after the client gave up
    bank.configure(timeout_rate=1)
    event = create_paid_event(organizer)
    _, body = _book(bank, event, make_user(), seat_ids(event)[:1])
    booking = wait_for_booking(body["id"])
    # then the retry looked the charge up instead of charging again
    assert booking.status == "confirmed"
    assert len(bank.charges_for(booking.pk)) == 1
    steps = _steps(booking.pk)
    assert steps[0] == ("charge", "unknown")
    assert ("lookup", "approved") in steps
    assert steps.count(("charge", "unknown")) == 1
    assert Payment.objects.get(booking=booking).attempts == 1


def test_duplicate_answers_and_duplicate_commands_charge_once(
    bank, payment_worker, make_user, organizer
):
    from ticketing.celery import app

    # given a bank that processes every charge twice (a duplicated request) and answers with
    # the replay
    bank.configure(duplicate_rate=1)
    event = create_paid_event(organizer)
    _, body = _book(bank, event, make_user(), seat_ids(event)[:2])
    booking = wait_for_booking(body["id"])
    assert booking.status == "confirmed"
    # when the ChargeBooking command is delivered twice more
    command = ChargeBooking(str(booking.pk), str(booking.pk)).to_dict()
    for _ in range(2):
        app.send_task(CHARGE_BOOKING_TASK, kwargs={"command": command}, queue=PAYMENTS_QUEUE)
    wait_until(lambda: PaymentAttempt.objects.filter(booking=booking).count() >= 2, message="steps")
    # then there is still one charge, one confirmation and one BookingConfirmed event
    [charge] = bank.charges_for(booking.pk)
    assert charge["status"] == "approved"
    assert _topics(booking.pk).count("BookingConfirmed") == 1
    assert _steps(booking.pk) == [("charge", "approved"), ("confirm", "done")]


def test_bank_down_then_back_pays(bank, payment_worker, make_user, organizer):
    event = create_paid_event(organizer)
    # given the bank is down when the buyer registers
    token = bank.token()
    bank.stop()
    _, body = _book_without_bank(event, make_user(), token)
    payment = wait_until(
        lambda: Payment.objects.filter(booking_id=body["id"], status="unknown").first(),
        message="the charge to fail",
    )
    # then the booking waits for its payment, seats kept
    assert wait_for_booking(body["id"], ("pending_payment",)).status == "pending_payment"
    # when the bank comes back, the retries pay it
    bank.start()
    booking = wait_for_booking(body["id"], timeout=30)
    assert booking.status == "confirmed"
    assert len(bank.charges_for(booking.pk)) == 1
    payment.refresh_from_db()
    assert payment.status == "approved"
    assert ("charge", "unknown") in _steps(booking.pk)


def test_bank_down_past_the_deadline_is_compensated(bank, payment_worker, make_user, organizer):
    from django.utils import timezone

    from payments.services import sweep_payments

    event = create_paid_event(organizer)
    seats = seat_ids(event)[:2]
    token = bank.token()
    bank.stop()
    _, body = _book_without_bank(event, make_user(), token, seats)
    wait_until(
        lambda: Payment.objects.filter(booking_id=body["id"], status="unknown").exists(),
        message="the charge to fail",
    )
    # when the payment deadline passes with the bank still down
    Payment.objects.filter(booking_id=body["id"]).update(deadline_at=timezone.now())
    assert sweep_payments()["expired"] == 1
    # then the booking is compensated: failed, tickets cancelled, seats on sale
    booking = wait_for_booking(body["id"], ("failed",))
    assert booking.failure_reason == "payment_timeout"
    assert not Ticket.objects.filter(booking=booking).exclude(status="cancelled").exists()
    assert _seats_on_sale(event, seats)
    assert Payment.objects.get(booking=booking).status == "unknown"  # it may have charged
    # and once the bank is back the sweep finds nothing was charged: voided, never charged.
    # The failed lookups may have opened the circuit: the sweep asks again once it lets through.
    bank.start()

    def swept_to_voided():
        sweep_payments()
        return Payment.objects.get(booking=booking).status == "voided"

    wait_until(swept_to_voided, timeout=10, message="the sweep to void the payment")
    assert bank.charges_for(booking.pk) == []
    booking.refresh_from_db()
    assert booking.status == "failed"


def test_deadline_lookup_confirms_a_charge_that_went_through(
    bank, payment_worker, make_user, organizer
):
    from django.utils import timezone

    from payments.services import sweep_payments

    # given a charge the bank made although the payment worker never heard back
    event = create_paid_event(organizer)
    token = bank.token()
    bank.stop()
    _, body = _book_without_bank(event, make_user(), token)
    wait_until(
        lambda: Payment.objects.filter(booking_id=body["id"], status="unknown").exists(),
        message="the charge to fail",
    )
    bank.start()
    payment = Payment.objects.get(booking_id=body["id"])
    charge_id = _charge_at_the_bank(bank, payment)
    # when the payment deadline passes and the sweep (or the worker's retry) looks it up
    Payment.objects.filter(pk=payment.pk).update(deadline_at=timezone.now())
    sweep_payments()
    # then the booking is confirmed, not compensated, with that one charge
    booking = wait_for_booking(body["id"])
    assert booking.status == "confirmed"
    assert [c["id"] for c in bank.charges_for(booking.pk)] == [charge_id]


def test_payment_worker_killed_mid_charge(bank, payment_worker, make_user, organizer):
    # given a slow bank
    bank.configure(latency_ms=1000)
    event = create_paid_event(organizer)
    _, body = _book(bank, event, make_user(), seat_ids(event)[:2])
    # when the worker (one process, a thread per charge) is killed while the charge is in
    # flight, and a new one starts
    wait_until(lambda: bank.ledger()["in_flight"] >= 1, message="a charge in flight")
    payment_worker.kill()
    payment_worker.start()
    # then the redelivered command looks the charge up: one charge, one final state
    booking = wait_for_booking(body["id"], timeout=60)
    assert booking.status == "confirmed"
    [charge] = bank.charges_for(booking.pk)
    assert charge["status"] == "approved"
    steps = _steps(booking.pk)
    assert ("lookup", "approved") in steps
    assert steps[-1] == ("confirm", "done")
    assert _topics(booking.pk).count("BookingConfirmed") == 1


# --- helpers -------------------------------------------------------------------------------


def _book_without_bank(event, buyer, token, seats=None):
    """Register with a token issued earlier (the bank is down now)."""
    client = client_of(buyer)
    response = register(client, hold(client, event, seats or seat_ids(event)[:1]), token=token)
    assert response.status_code == 201, response.content
    assert response.json()["status"] == "pending_payment"
    return client, response.json()


def _charge_at_the_bank(bank, payment) -> str:
    """Charge with the payment's idempotency key, as a request whose answer was lost would."""
    response = httpx.post(
        f"{bank.url}/charges",
        json={"amount": 4500, "currency": "EUR", "token": bank.token()},
        headers={"Idempotency-Key": payment.idempotency_key},
        timeout=5,
    )
    return response.json()["id"]
