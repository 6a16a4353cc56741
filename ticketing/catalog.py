"""Reads of the public catalog: finding events by text, city, date, category, price and seats left.

Text search is PostgreSQL full text over ``Event.search_document``, a tsvector kept by database
triggers from the event's title and description and its venue's name and city (migration
``ticketing/migrations/0004_catalog_search``) and indexed with GIN. The ``simple`` configuration
is used on purpose: titles and venues mix languages, and no stemming is better than the wrong one.

Unlisted events never appear here; their page and API detail stay reachable by link.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from django.contrib.postgres.search import SearchQuery, SearchRank
from django.db.models import (
    Count,
    DateField,
    Exists,
    F,
    Func,
    IntegerField,
    Max,
    Min,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
)
from django.db.models.functions import Cast, Coalesce
from django.utils import timezone

from registration_worker.models import Ticket
from seatmaps.models import Seat
from shared.enums import EventStatus, TicketStatus
from ticketing.models import Event, PriceCategory

SEARCH_CONFIG = "simple"
# What a buyer may see in the catalog (a draft is only previewed by its organizer).
CATALOG_STATUSES = [EventStatus.ON_SALE, EventStatus.CLOSED, EventStatus.CANCELLED]
# ?ordering= values -> ORDER BY; every ordering ends with the id so pages never overlap.
ORDERINGS = {
    "starts_at": ("starts_at", "pk"),
    "-starts_at": ("-starts_at", "-pk"),
    "price": (F("min_price").asc(nulls_last=True), "starts_at", "pk"),
    "-price": (F("max_price").desc(nulls_last=True), "starts_at", "pk"),
    "title": ("title", "pk"),
    "-title": ("-title", "-pk"),
    "relevance": ("-rank", "starts_at", "pk"),  # only with a text query
}


def _local_start_date():
    """The event's start date on the venue's wall clock (a 23:30 start in Berlin is that day)."""
    wall_clock = Func(F("venue__time_zone"), F("starts_at"), function="timezone")
    return Cast(wall_clock, DateField())


def _seats_left():
    """Tickets still unsold: the capacity (general admission) or the seats that have a price
    category, minus live tickets. Holds are not subtracted: they expire."""
    live = (
        Ticket.objects.filter(event=OuterRef("pk"))
        .exclude(status=TicketStatus.CANCELLED)
        .order_by()
        .values("event")
        .annotate(n=Count("pk"))
        .values("n")
    )
    sellable_seats = (
        Seat.objects.filter(section__price_categories__event=OuterRef("pk"))
        .order_by()
        .values("section__price_categories__event")
        .annotate(n=Count("pk", distinct=True))
        .values("n")
    )
    output = IntegerField()
    sellable = Coalesce(F("capacity"), Subquery(sellable_seats, output_field=output), Value(0))
    return sellable - Coalesce(Subquery(live, output_field=output), Value(0))


def catalog_events(
    *,
    q: str = "",
    city: str = "",
    date_from: date | None = None,
    date_to: date | None = None,
    category: str = "",
    price_min: Decimal | None = None,
    price_max: Decimal | None = None,
    currency: str = "",
    available: bool = False,
    ordering: str = "starts_at",
) -> QuerySet[Event]:
    """Listed events a buyer may see, filtered and ordered; annotated with ``min_price``,
    ``max_price``, ``price_currency`` (of the cheapest category) and ``seats_left``.

    Dates are venue-local and inclusive. ``category``, ``price_min``, ``price_max`` and
    ``currency`` must all hold for one and the same price category. ``available``: only events
    with unsold tickets. The caller validates the values (``ticketing.api.serializers``).
    """
    events = Event.objects.filter(status__in=CATALOG_STATUSES, listed=True)
    if q:
        query = SearchQuery(q, config=SEARCH_CONFIG, search_type="websearch")
        events = events.filter(search_document=query).annotate(
            rank=SearchRank(F("search_document"), query)
        )
    if city:
        events = events.filter(venue__city__iexact=city.strip())
    if date_from or date_to:
        events = events.annotate(local_date=_local_start_date())
        if date_from:
            events = events.filter(local_date__gte=date_from)
        if date_to:
            events = events.filter(local_date__lte=date_to)
    category_rules = Q()
    if category:
        category_rules &= Q(name__iexact=category.strip())
    if price_min is not None:
        category_rules &= Q(price__gte=price_min)
    if price_max is not None:
        category_rules &= Q(price__lte=price_max)
    if currency:
        category_rules &= Q(currency__iexact=currency)
    if category_rules:
        matching = PriceCategory.objects.filter(category_rules, event=OuterRef("pk"))
        events = events.filter(Exists(matching))
    cheapest = PriceCategory.objects.filter(event=OuterRef("pk")).order_by("price", "pk")
    events = events.annotate(
        min_price=Min("price_categories__price"),
        max_price=Max("price_categories__price"),
        price_currency=Subquery(cheapest.values("currency")[:1]),
        seats_left=_seats_left(),
    )
    if available:
        events = events.filter(seats_left__gt=0)
    return (
        events.select_related("venue")
        .prefetch_related("price_categories")
        .order_by(*ORDERINGS[ordering])
    )


def on_sale_now(*, limit: int = 6) -> list[Event]:
    """The next listed events whose sales are open now: the landing page's short list."""
    now = timezone.now()
    events = (
        Event.objects.filter(status=EventStatus.ON_SALE, listed=True, ends_at__gte=now)
        .filter(Q(sales_start__isnull=True) | Q(sales_start__lte=now))
        .filter(Q(sales_end__isnull=True) | Q(sales_end__gt=now))
        .select_related("venue")
        .annotate(
            min_price=Min("price_categories__price"),
            price_currency=Subquery(
                PriceCategory.objects.filter(event=OuterRef("pk"))
                .order_by("price", "pk")
                .values("currency")[:1]
            ),
        )
        .order_by("starts_at", "pk")
    )
    return list(events[:limit])
