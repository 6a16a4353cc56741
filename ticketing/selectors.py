"""Reads for the API and the seat-map pages."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Prefetch

from registration_worker.models import Booking, Ticket
from registration_worker.selectors import live_seat_ids, live_ticket_count
from seatmaps.models import Seat
from shared.local_cache import LocalCache
from shared.locks import seat_locks
from ticketing.models import Event, PriceCategory
from ticketing.services.event_rules import get_event_rules


@dataclass(frozen=True)
class Category:
    id: int
    name: str
    price: str
    currency: str
    color: str


@dataclass(frozen=True)
class SeatPricing:
    """Which category (and so which price) each seat of an event sells at."""

    categories: dict[int, Category]
    seat_category: dict[int, int]  # seat id -> category id
    seats: list[dict]  # the seat map, in map order, with its category


_pricing_cache: LocalCache[SeatPricing] = LocalCache()


def seat_pricing(event_id: int) -> SeatPricing:
    """The event's categories and seat-to-category map, cached per version of the event's rules."""
    version = get_event_rules(event_id).version
    return _pricing_cache.get_or_build(event_id, version, lambda: _build_pricing(event_id))


def _build_pricing(event_id: int) -> SeatPricing:
    categories = {
        c.pk: Category(c.pk, c.name, str(c.price), c.currency, c.color)
        for c in PriceCategory.objects.filter(event_id=event_id)
    }
    section_category: dict[int, int] = {}
    for category_id, section_id in PriceCategory.sections.through.objects.filter(
        pricecategory__event_id=event_id
    ).values_list("pricecategory_id", "section_id"):
        # A section in two categories sells at the first one seen (categories by id).
        section_category.setdefault(section_id, category_id)
    event = Event.objects.only("seat_map_id").get(pk=event_id)
    seat_category: dict[int, int] = {}
    seats = []
    if event.seat_map_id:
        for seat in (
            Seat.objects.filter(seat_map_id=event.seat_map_id)
            .select_related("section")
            .order_by("id")
            .values("id", "section_id", "section__code", "row_label", "number", "label", "x", "y")
        ):
            category_id = section_category.get(seat["section_id"])
            if category_id is not None:
                seat_category[seat["id"]] = category_id
            seats.append(
                {
                    "id": seat["id"],
                    "section": seat["section__code"],
                    "row": seat["row_label"],
                    "number": seat["number"],
                    "label": seat["label"],
                    "x": seat["x"],
                    "y": seat["y"],
                    "category": category_id,
                }
            )
    return SeatPricing(categories, seat_category, seats)


def seat_statuses(event_id: int) -> dict:
    """Held and sold seat ids of an event, from Redis in one round trip."""
    pricing = seat_pricing(event_id)
    seat_ids = list(pricing.seat_category)
    held, sold, present = seat_locks().seat_statuses(event_id, seat_ids)
    if not present:
        seat_locks().rebuild_sold(event_id, live_seat_ids(event_id))
        held, sold, _ = seat_locks().seat_statuses(event_id, seat_ids)
    return {"held": sorted(held), "sold": sorted(sold)}


def bookings_of(*, buyer):
    """A buyer's bookings with what the API shows of them (event, tickets, seats, prices)."""
    tickets = Ticket.objects.select_related("seat__section", "price_category")
    return (
        Booking.objects.filter(buyer=buyer)
        .select_related("event")
        .prefetch_related(Prefetch("tickets", queryset=tickets))
    )


def event_ids_not_cancelled() -> list[int]:
    return list(Event.objects.exclude(status=Event.Status.CANCELLED).values_list("pk", flat=True))


def general_admission_availability(event_id: int) -> dict:
    rules = get_event_rules(event_id)
    sold, held = seat_locks().ga_counts(event_id)
    if sold is None:
        seat_locks().rebuild_ga_sold(event_id, live_ticket_count(event_id))
        sold, held = seat_locks().ga_counts(event_id)
    return {
        "capacity": rules.capacity,
        "sold": sold,
        "held": held,
        "available": max(rules.capacity - sold - held, 0),
    }


__all__ = [
    "bookings_of",
    "event_ids_not_cancelled",
    "general_admission_availability",
    "seat_pricing",
    "seat_statuses",
]
