"""Reads for the API and the seat-map pages."""

from __future__ import annotations

import threading
from dataclasses import dataclass

from django.db.models import Prefetch

from registration_worker.models import Booking, Ticket
from seatmaps.models import Seat
from shared.locks import seat_locks
from ticketing.models import Event, PriceCategory
from ticketing.services.event_rules import get_event_rules
from ticketing.services.holds import CreatedHold


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


def sellable_seat_ids(event: Event) -> list[int]:
    return list(
        Seat.objects.filter(
            seat_map_id=event.seat_map_id, section__price_categories__event=event
        ).values_list("pk", flat=True)
    )


_pricing_cache: dict[tuple[int, str], SeatPricing] = {}
_pricing_lock = threading.Lock()


def seat_pricing(event_id: int) -> SeatPricing:
    """The event's categories and seat-to-category map, cached per version of the event's rules."""
    version = get_event_rules(event_id).version
    key = (event_id, version)
    cached = _pricing_cache.get(key)
    if cached is not None:
        return cached
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
    pricing = SeatPricing(categories, seat_category, seats)
    with _pricing_lock:
        for stale in [k for k in _pricing_cache if k[0] == event_id]:
            del _pricing_cache[stale]
        _pricing_cache[key] = pricing
    return pricing


def seat_statuses(event_id: int) -> dict:
    """Held and sold seat ids of an event, from Redis in one round trip."""
    pricing = seat_pricing(event_id)
    seat_ids = list(pricing.seat_category)
    held, sold, present = seat_locks().seat_statuses(event_id, seat_ids)
    if not present:
        from registration_worker.services import live_seat_ids

        seat_locks().rebuild_sold(event_id, live_seat_ids(event_id))
        held, sold, _ = seat_locks().seat_statuses(event_id, seat_ids)
    return {"held": sorted(held), "sold": sorted(sold)}


def general_admission_availability(event_id: int) -> dict:
    rules = get_event_rules(event_id)
    sold, held = seat_locks().ga_counts(event_id)
    if sold is None:
        from registration_worker.services import live_ticket_count

        seat_locks().rebuild_ga_sold(event_id, live_ticket_count(event_id))
        sold, held = seat_locks().ga_counts(event_id)
    return {
        "capacity": rules.capacity,
        "sold": sold,
        "held": held,
        "available": max(rules.capacity - sold - held, 0),
    }


__all__ = [
    "general_admission_availability",
    "seat_pricing",
    "seat_statuses",
    "sellable_seat_ids",
]


def buyer_live_holds(user_id: int, event_id: int):
    """The buyer's unexpired holds of an event, from Redis alone (no database)."""
    return [CreatedHold.from_hold(h) for h in seat_locks().live_holds(event_id, str(user_id))]


def buyer_bookings(user):
    """The buyer's bookings, newest first, with what the bookings page shows (event, venue,
    payment, tickets and seats) loaded in four queries."""
    tickets = Ticket.objects.select_related("seat__section", "price_category").order_by("id")
    return (
        Booking.objects.filter(buyer=user)
        .select_related("event__venue", "payment")
        .prefetch_related(Prefetch("tickets", queryset=tickets))
        .order_by("-created_at")
    )
