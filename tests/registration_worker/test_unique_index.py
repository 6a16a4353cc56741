"""PostgreSQL refuses a second live ticket for a seat, whatever Redis says."""

import pytest
from django.db import IntegrityError, transaction

from registration_worker.models import Booking, Ticket
from shared.ticket_codes import issue_code
from tests.conftest import seat_ids

pytestmark = pytest.mark.django_db


def _booking(event, buyer, key):
    return Booking.objects.create(
        buyer=buyer, event=event, source="simple", idempotency_key=key,
        request_fingerprint="x", hold_id="h",
    )  # fmt: skip


def _ticket(booking, seat_id, status="valid"):
    return Ticket.objects.create(
        booking=booking, event=booking.event, seat_id=seat_id,
        price_category=booking.event.price_categories.first(), price="45.00", currency="EUR",
        code=issue_code(booking.event_id), status=status,
    )  # fmt: skip


def test_second_live_ticket_for_a_seat_is_refused(seated_event, make_user):
    seat = seat_ids(seated_event)[0]
    _ticket(_booking(seated_event, make_user(), "a"), seat)
    with pytest.raises(IntegrityError), transaction.atomic():
        _ticket(_booking(seated_event, make_user(), "b"), seat)


def test_a_cancelled_ticket_frees_the_seat(seated_event, make_user):
    seat = seat_ids(seated_event)[0]
    _ticket(_booking(seated_event, make_user(), "a"), seat, status="cancelled")
    _ticket(_booking(seated_event, make_user(), "b"), seat)
    assert Ticket.objects.filter(seat_id=seat).count() == 2


def test_general_admission_tickets_have_no_seat_and_do_not_collide(organizer, make_user):
    from tests.conftest import create_ga_event

    event = create_ga_event(organizer)
    booking = _booking(event, make_user(), "a")
    _ticket(booking, None)
    _ticket(booking, None)
    assert Ticket.objects.filter(event=event).count() == 2
