"""factory_boy factories for the test data every app needs: users, venues, seat maps with
seats, events (seated and general admission) with a price category, bookings with tickets.

Defaults make a valid, on-sale object; pass only what a test is about.
"""

import itertools
import uuid
from datetime import timedelta
from decimal import Decimal

import factory
from django.contrib.auth import get_user_model
from django.utils import timezone
from factory.django import DjangoModelFactory

from registration_worker.models import Booking, Ticket
from seatmaps.models import Seat, SeatMap, Section, Venue
from shared.enums import BookingSource, BookingStatus, EventStatus, TicketStatus
from shared.ticket_codes import issue_code
from ticketing.models import Event, PriceCategory

# Unique across the processes of one session too (tests and servers share the database).
_serial = itertools.count(1)


def unique(prefix: str) -> str:
    return f"{prefix}-{next(_serial)}-{uuid.uuid4().hex[:8]}"


class UserFactory(DjangoModelFactory):
    class Meta:
        model = get_user_model()

    username = factory.LazyFunction(lambda: unique("buyer"))
    email = factory.LazyAttribute(lambda user: f"{user.username}@example.com")
    password = "pw"

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        return model_class._default_manager.create_user(*args, **kwargs)


class VenueFactory(DjangoModelFactory):
    class Meta:
        model = Venue

    name = "Test Theatre"
    city = "Berlin"
    address = "Main St 1"


class SeatMapFactory(DjangoModelFactory):
    """A procedural map with one section of ``rows`` x ``seats_per_row`` seats."""

    class Meta:
        model = SeatMap
        skip_postgeneration_save = True

    venue = factory.SubFactory(VenueFactory)
    name = "Main"
    kind = SeatMap.Kind.PROCEDURAL

    @factory.post_generation
    def seats(seat_map, create, extracted, **kwargs):
        if not create:
            return
        section = Section.objects.create(seat_map=seat_map, code="stalls", name="Stalls")
        rows, per_row = kwargs.get("rows", 2), kwargs.get("seats_per_row", 5)
        Seat.objects.bulk_create(
            Seat(
                seat_map=seat_map,
                section=section,
                row_label=chr(ord("A") + r),
                number=str(n + 1),
                label=f"Row {chr(ord('A') + r)} Seat {n + 1}",
                x=n * 10,
                y=r * 10,
            )
            for r in range(rows)
            for n in range(per_row)
        )


class EventFactory(DjangoModelFactory):
    """A seated event on sale in 30 days, one category at 45.00 EUR selling every section."""

    class Meta:
        model = Event
        skip_postgeneration_save = True

    class Params:
        rows = 2
        seats_per_row = 5

    organizer = factory.SubFactory(
        UserFactory, username=factory.LazyFunction(lambda: unique("org"))
    )
    title = "Test Concert"
    slug = factory.LazyFunction(lambda: unique("event"))
    venue = factory.SubFactory(VenueFactory)
    seat_map = factory.SubFactory(
        SeatMapFactory,
        venue=factory.SelfAttribute("..venue"),
        seats__rows=factory.SelfAttribute("...rows"),
        seats__seats_per_row=factory.SelfAttribute("...seats_per_row"),
    )
    starts_at = factory.LazyFunction(lambda: timezone.now() + timedelta(days=30))
    ends_at = factory.LazyAttribute(lambda event: event.starts_at + timedelta(hours=3))
    status = EventStatus.ON_SALE

    @factory.post_generation
    def category(event, create, extracted, **kwargs):
        if not create:
            return
        category = PriceCategory.objects.create(
            event=event,
            name=kwargs.get("name", "Category A"),
            price=kwargs.get("price", Decimal("45.00")),
        )
        if event.seat_map_id:
            category.sections.set(event.seat_map.sections.all())


class GeneralAdmissionEventFactory(EventFactory):
    """A general-admission event (no map) for ``capacity`` people, standing at 30.00 EUR."""

    title = "Festival"
    venue = factory.SubFactory(VenueFactory, name="Open Air", city="Hamburg", address="")
    seat_map = None
    capacity = 10
    starts_at = factory.LazyFunction(lambda: timezone.now() + timedelta(days=10))
    ends_at = factory.LazyAttribute(lambda event: event.starts_at + timedelta(hours=8))
    category__name = "Standing"
    category__price = Decimal("30.00")


class BookingFactory(DjangoModelFactory):
    """A confirmed simple-flow booking; ``tickets`` (seats, or None per general-admission
    place) creates its tickets at the event's first category's price."""

    class Meta:
        model = Booking
        skip_postgeneration_save = True

    buyer = factory.SubFactory(UserFactory)
    event = factory.SubFactory(EventFactory)
    status = BookingStatus.CONFIRMED
    source = BookingSource.SIMPLE
    idempotency_key = factory.LazyFunction(lambda: unique("idem"))
    request_fingerprint = factory.LazyFunction(lambda: uuid.uuid4().hex)
    hold_id = factory.LazyFunction(lambda: uuid.uuid4().hex)
    currency = "EUR"
    confirmed_at = factory.LazyAttribute(
        lambda booking: timezone.now() if booking.status == BookingStatus.CONFIRMED else None
    )

    @factory.post_generation
    def tickets(booking, create, extracted, ticket_status=TicketStatus.VALID, **kwargs):
        if not create or not extracted:
            return
        category = booking.event.price_categories.first()
        for seat in extracted:
            Ticket.objects.create(
                booking=booking,
                event=booking.event,
                seat=seat,
                price_category=category,
                price=category.price,
                currency=category.currency,
                code=issue_code(booking.event_id),
                status=ticket_status,
            )
        booking.total = category.price * len(extracted)
        booking.currency = category.currency
        booking.save(update_fields=["total", "currency"])
