"""Nothing stays pending: the beat sweep publishes again the command of a pending booking that
is no longer in flight (registration_worker/redrive.py), against the real worker and broker."""

import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from registration_worker import redrive, services
from registration_worker.models import Booking, OutboxMessage, Ticket
from shared.messaging import TOPIC_PROCESS_BOOKING
from tests.conftest import create_seated_event, seat_ids
from tests.payments.conftest import wait_for_booking
from ticketing.services.holds import create_hold
from ticketing.services.registrations import register_hold

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_pending_booking_whose_command_was_lost_is_booked_once(
    booking_worker, make_user, organizer, monkeypatch
):
    # given a queued registration accepted, its command marked published two minutes ago but
    # lost on the way (this process never really sends it)
    monkeypatch.setattr(services, "relay_in_background", lambda message_id: None)
    event = create_seated_event(organizer, registration_mode="queued")
    buyer = make_user()
    hold = create_hold(user_id=buyer.pk, event_id=event.pk, seat_ids=seat_ids(event)[:2])
    booking = register_hold(
        user_id=buyer.pk, hold_id=hold.id, idempotency_key=uuid.uuid4().hex
    ).booking
    long_ago = timezone.now() - timedelta(minutes=2)
    Booking.objects.filter(pk=booking.pk).update(created_at=long_ago)
    command = OutboxMessage.objects.get(
        topic=TOPIC_PROCESS_BOOKING, payload__booking_id=str(booking.pk)
    )
    OutboxMessage.objects.filter(pk=command.pk).update(sent_at=long_ago)
    # when the sweep runs (twice: a beat tick may come again before the worker is done)
    assert redrive.redrive_pending_bookings() == 1
    redrive.redrive_pending_bookings()
    # then the booking is confirmed, once
    assert wait_for_booking(booking.pk).status == "confirmed"
    assert Ticket.objects.filter(booking=booking).count() == 2
    # and a confirmed booking is never driven again
    OutboxMessage.objects.filter(pk=command.pk).update(sent_at=long_ago)
    assert redrive.redrive_pending_bookings() == 0


def test_a_recent_or_still_queued_command_is_left_alone(make_user, organizer, monkeypatch):
    # given a pending booking whose command was published just now
    monkeypatch.setattr(services, "relay_in_background", lambda message_id: None)
    event = create_seated_event(organizer, registration_mode="queued")
    buyer = make_user()
    hold = create_hold(user_id=buyer.pk, event_id=event.pk, seat_ids=seat_ids(event)[:1])
    booking = register_hold(
        user_id=buyer.pk, hold_id=hold.id, idempotency_key=uuid.uuid4().hex
    ).booking
    OutboxMessage.objects.filter(payload__booking_id=str(booking.pk)).update(sent_at=timezone.now())
    Booking.objects.filter(pk=booking.pk).update(created_at=timezone.now() - timedelta(hours=1))
    # then the sweep does not publish it again
    assert redrive.redrive_pending_bookings() == 0
    # nor when it is old but commands still wait in the bookings queue (it may be among them)
    OutboxMessage.objects.filter(payload__booking_id=str(booking.pk)).update(
        sent_at=timezone.now() - timedelta(hours=1)
    )
    monkeypatch.setattr(redrive, "commands_waiting", lambda: 3)
    assert redrive.redrive_pending_bookings() == 0
    Booking.objects.filter(pk=booking.pk).update(status="failed")  # let the teardown settle
