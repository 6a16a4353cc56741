"""Refunds: the buyer before the deadline, the organizer cancelling the event, and the refusal."""

from datetime import timedelta

import pytest
from django.utils import timezone

from payments.models import Payment
from registration_worker.models import Booking, OutboxMessage, Ticket
from shared.locks import seat_locks
from tests.conftest import seat_ids
from tests.payments.conftest import (
    client_of,
    create_paid_event,
    hold,
    register,
    wait_for_booking,
)
from tests.ticketing.test_holds_api import assert_error
from ticketing.services.events import cancel_event

pytestmark = pytest.mark.django_db(transaction=True)


def _paid_booking(bank, event, buyer, seats):
    client = client_of(buyer)
    response = register(client, hold(client, event, seats), token=bank.token())
    assert response.status_code == 201, response.content
    booking = wait_for_booking(response.json()["id"])
    assert booking.status == "confirmed"
    return client, booking


def _refunds_of(bank, booking) -> list[dict]:
    [charge] = bank.charges_for(booking.pk)
    return [r for r in bank.ledger()["refunds"] if r["charge"] == charge["id"]]


def test_buyer_cancels_before_the_deadline_and_is_refunded(
    bank, payment_worker, make_user, organizer
):
    event = create_paid_event(organizer)
    seats = seat_ids(event)[:2]
    client, booking = _paid_booking(bank, event, make_user(), seats)
    # when the buyer cancels
    response = client.post(f"/api/v1/bookings/{booking.pk}/cancel/")
    # then the bank refunded the whole charge, once, and the booking is cancelled
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "cancelled"
    [refund] = _refunds_of(bank, booking)
    assert refund["amount"] == 9000
    assert bank.net_charged(booking.pk) == 0
    payment = Payment.objects.get(booking=booking)
    assert (payment.status, payment.refund_reference) == ("refunded", refund["id"])
    # and the seats are back on sale, the buyer is emailed (BookingCancelled in the outbox)
    held, sold, _ = seat_locks().seat_statuses(event.pk, seats)
    assert not (set(seats) & (held | sold))
    assert OutboxMessage.objects.filter(
        topic="BookingCancelled", payload__booking_id=str(booking.pk)
    ).exists()
    # and cancelling again changes nothing (the refund is idempotent)
    assert_error(client.post(f"/api/v1/bookings/{booking.pk}/cancel/"), 422, "not_cancellable")
    assert len(_refunds_of(bank, booking)) == 1


def test_refund_after_the_deadline_is_refused(bank, payment_worker, make_user, organizer):
    event = create_paid_event(organizer, refund_deadline=timezone.now() + timedelta(seconds=3))
    client, booking = _paid_booking(bank, event, make_user(), seat_ids(event)[:1])
    # when the buyer cancels after the event's refund deadline
    event.refund_deadline = timezone.now() - timedelta(seconds=1)
    event.save(update_fields=["refund_deadline"])
    response = client.post(f"/api/v1/bookings/{booking.pk}/cancel/")
    # then 422, and nothing changed
    assert_error(response, 422, "refund_deadline_passed")
    booking.refresh_from_db()
    assert booking.status == "confirmed"
    assert _refunds_of(bank, booking) == []
    assert Payment.objects.get(booking=booking).status == "approved"


def test_no_refund_deadline_means_until_the_event_starts(
    bank, payment_worker, make_user, organizer
):
    event = create_paid_event(organizer)
    client, booking = _paid_booking(bank, event, make_user(), seat_ids(event)[:1])
    event.starts_at = timezone.now() - timedelta(minutes=1)
    event.save(update_fields=["starts_at"])
    assert_error(
        client.post(f"/api/v1/bookings/{booking.pk}/cancel/"), 422, "refund_deadline_passed"
    )


def test_event_cancellation_refunds_every_paid_booking(bank, payment_worker, make_user, organizer):
    # given an event with two paid bookings, the refund deadline long passed
    event = create_paid_event(organizer)
    seats = seat_ids(event)
    bookings = [_paid_booking(bank, event, make_user(), seats[i : i + 2])[1] for i in (0, 2)]
    event.refund_deadline = timezone.now() - timedelta(days=1)
    event.save(update_fields=["refund_deadline"])
    # when the organizer cancels the event
    assert cancel_event(event=event) == 2
    # then every booking is refunded in full and cancelled, every seat released
    for booking in bookings:
        booking.refresh_from_db()
        assert booking.status == "cancelled"
        assert [r["amount"] for r in _refunds_of(bank, booking)] == [9000]
        assert bank.net_charged(booking.pk) == 0
        assert Payment.objects.get(booking=booking).status == "refunded"
    assert not Ticket.objects.filter(event=event).exclude(status="cancelled").exists()
    # and running it again refunds nothing twice
    cancel_event(event=event)
    assert all(len(_refunds_of(bank, b)) == 1 for b in bookings)


def test_event_cancelled_while_a_booking_awaits_payment(bank, payment_worker, make_user, organizer):
    # given a booking whose charge has not run yet (the bank is down)
    event = create_paid_event(organizer)
    token = bank.token()
    bank.stop()
    client = client_of(make_user())
    response = register(client, hold(client, event, seat_ids(event)[:1]), token=token)
    booking_id = response.json()["id"]
    # when the organizer cancels the event, then the bank comes back
    cancel_event(event=event)
    bank.start()
    # then the booking is not charged but compensated
    booking = wait_for_booking(booking_id, timeout=30)
    assert (booking.status, booking.failure_reason) == ("failed", "event_cancelled")
    assert bank.net_charged(booking_id) == 0
    assert Booking.objects.get(pk=booking_id).tickets.exclude(status="cancelled").count() == 0
