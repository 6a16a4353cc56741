"""Data helpers for the seat-map tests (a module, not a conftest, so tests can import it)."""

import uuid
from datetime import timedelta
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.utils import timezone

from seatmaps.generator import LayoutParams, SectionSpec


def _unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def small_theatre(rows: int = 3, seats: int = 4, **overrides) -> LayoutParams:
    """One section of ``rows`` x ``seats``, straight rows, letters, left to right."""
    section = SectionSpec(code="stalls", name="Stalls", rows=rows, seats_per_row=seats)
    return LayoutParams(sections=(section,), **overrides)


def make_event(seat_map, status: str = "on_sale"):
    """An event using ``seat_map`` (on sale by default), with one price category (45 EUR)."""
    from ticketing.models import Event, PriceCategory

    organizer = get_user_model().objects.create_user(username=_unique("organizer"), password="pw")
    now = timezone.now()
    event = Event.objects.create(
        organizer=organizer,
        title="Hamlet",
        slug=_unique("hamlet"),
        venue=seat_map.venue,
        seat_map=seat_map,
        starts_at=now + timedelta(days=7),
        ends_at=now + timedelta(days=7, hours=3),
        status=status,
    )
    PriceCategory.objects.create(event=event, name="Category A", price=Decimal("45"))
    return event


def sell_ticket(seat, status: str = "valid"):
    """A ticket on ``seat`` as the booking flow writes it: an event on the seat's map, a
    confirmed booking, one ticket in the event's price category."""
    from registration_worker.models import Booking, Ticket
    from shared.enums import BookingSource, BookingStatus

    event = make_event(seat.seat_map)
    buyer = get_user_model().objects.create_user(username=_unique("buyer"), password="pw")
    booking = Booking.objects.create(
        buyer=buyer,
        event=event,
        status=BookingStatus.CONFIRMED,
        source=BookingSource.SIMPLE,
        idempotency_key=_unique("key"),
        request_fingerprint="f" * 64,
        hold_id=_unique("hold"),
        total=Decimal("45"),
    )
    return Ticket.objects.create(
        booking=booking,
        event=event,
        seat=seat,
        price_category=event.price_categories.get(),
        price=Decimal("45"),
        currency="EUR",
        code=_unique("code"),
        status=status,
    )
