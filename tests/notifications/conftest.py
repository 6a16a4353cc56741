"""Fixtures for the notifications tests: small factories over the real models and services."""

import itertools
import uuid
from datetime import timedelta
from decimal import Decimal

import pytest
from django.conf import settings
from django.utils import timezone

from seatmaps.models import Seat, SeatMap, Section, Venue
from shared.enums import BookingStatus, TicketStatus
from tests.factories import BookingFactory, UserFactory
from ticketing.models import Event, PriceCategory

_counter = itertools.count(1)


def _unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}-{next(_counter)}"


@pytest.fixture
def make_user(db):
    def make(username=None, *, email=None, **extra):
        fields = {"username": username or _unique("user")}
        if email is not None:
            fields["email"] = email
        return UserFactory(**fields, **extra)

    return make


@pytest.fixture
def make_event(db):
    """An on-sale event; seated (a map with ``rows`` x ``seats_per_row``) or general admission."""

    def make(
        organizer,
        *,
        seated=True,
        rows=2,
        seats_per_row=5,
        title=None,
        status=Event.Status.ON_SALE,
        time_zone="Europe/Berlin",
    ):
        venue = Venue.objects.create(
            name="Philharmonie am See",
            city="Berlin",
            address="Herbert-von-Karajan-Str. 1",
            time_zone=time_zone,
        )
        seat_map = None
        if seated:
            seat_map = SeatMap.objects.create(venue=venue, name="Main hall", kind="procedural")
            section = Section.objects.create(seat_map=seat_map, code="PARK", name="Parkett")
            Seat.objects.bulk_create(
                Seat(
                    seat_map=seat_map,
                    section=section,
                    row_label=row,
                    number=str(number),
                    label=f"Parkett {row}{number}",
                )
                for row in "ABCDEFGHJK"[:rows]
                for number in range(1, seats_per_row + 1)
            )
        starts = timezone.now().replace(microsecond=0) + timedelta(days=30)
        title = title or "Sommernachtskonzert"
        event = Event.objects.create(
            organizer=organizer,
            title=title,
            slug=_unique("event"),
            venue=venue,
            seat_map=seat_map,
            capacity=None if seated else 100,
            starts_at=starts,
            ends_at=starts + timedelta(hours=3),
            status=status,
        )
        category = PriceCategory.objects.create(
            event=event, name="Kategorie 1", price=Decimal("49.50")
        )
        if seated:
            category.sections.add(section)
        return event

    return make


@pytest.fixture
def make_booking(db):
    """A booking of ``event`` with one ticket per seat (or ``count`` general-admission ones)."""

    def make(
        buyer,
        event,
        *,
        seats=None,
        count=1,
        status=BookingStatus.CONFIRMED,
        ticket_status=TicketStatus.VALID,
    ):
        places = list(seats) if seats is not None else [None] * count
        return BookingFactory(
            buyer=buyer,
            event=event,
            status=status,
            tickets=places,
            tickets__ticket_status=ticket_status,
        )

    return make


@pytest.fixture
def real_smtp(settings):
    """Send over SMTP as configured (EMAIL_URL), not into Django's test-time locmem outbox."""
    settings.EMAIL_BACKEND = settings.EMAIL_CONFIG["EMAIL_BACKEND"]
    return settings


@pytest.fixture
def mail_sink_dir(real_smtp):
    """The folder where the running SMTP sink (port 1025) writes one .eml per message."""
    path = settings.MAIL_SINK_DIR
    path.mkdir(parents=True, exist_ok=True)
    return path
