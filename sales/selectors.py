"""The organizer's sales figures: the read tables plus what Redis holds right now.

Sold, checked-in and money figures come from the read tables (``sales.models``); seats held come
from Redis at read time (holds live for minutes and are never stored here). ``available`` is
what a buyer could take now: neither held nor sold in Redis, which also leaves out seats whose
booking awaits its payment (``awaiting_payment``).
"""

from __future__ import annotations

from decimal import Decimal

from django.db.models import Count, Sum

from payments.models import Payment
from registration_worker.models import Booking, Ticket
from sales.models import CategorySales, EventSales, HourlySales, SectionSales
from seatmaps.models import Seat, Section
from shared.access import events_visible_to
from shared.enums import BookingStatus, TicketStatus
from shared.locks import seat_locks
from ticketing.models import Event

ZERO = Decimal("0.00")


def organizer_events(user):
    """The events whose sales ``user`` may see: their own, every event for admins."""
    return events_visible_to(user, Event.objects.select_related("venue", "sales"))


def money(event_sales: EventSales | None) -> dict:
    if event_sales is None:
        return {
            "currency": "EUR",
            "gross": ZERO,
            "refunds": ZERO,
            "net": ZERO,
            "commission": ZERO,
            "payout": ZERO,
        }
    return {
        "currency": event_sales.currency,
        "gross": event_sales.gross,
        "refunds": event_sales.refunds,
        "net": event_sales.gross - event_sales.refunds,
        "commission": event_sales.commission,
        "payout": event_sales.payout,
    }


def event_summary(event: Event) -> dict:
    """One line of the organizer's event list."""
    sales = getattr(event, "sales", None)
    return {
        "id": event.pk,
        "title": event.title,
        "status": event.status,
        "starts_at": event.starts_at,
        "venue": {"id": event.venue_id, "name": event.venue.name, "city": event.venue.city},
        "tickets_sold": sales.tickets_sold if sales else 0,
        "revenue": money(sales),
    }


def _counts(section_or_category: dict, capacity, held: int, taken: int, row) -> dict:
    sold = row.sold if row else 0
    figures = {
        **section_or_category,
        "capacity": capacity,
        "sold": sold,
        "held": held,
        "checked_in": row.checked_in if row else 0,
    }
    if capacity is not None:
        figures["available"] = max(capacity - taken - held, 0)
        figures["awaiting_payment"] = max(taken - sold, 0)
    return figures


def event_sales(event: Event, user) -> dict:
    """Every figure of one event (the caller has checked ``view_sales``)."""
    sales = EventSales.objects.filter(event=event).first() or EventSales(event=event)  # zeros
    category_rows = {r.price_category_id: r for r in CategorySales.objects.filter(event=event)}
    categories = list(event.price_categories.prefetch_related("sections"))
    if event.seat_map_id:
        capacity, held, taken, sections, counts = _seated(event)
        parts_of = {
            c.pk: [counts[s.pk] for s in c.sections.all() if s.pk in counts] for c in categories
        }
    else:
        redis_sold, held = seat_locks().ga_counts(event.pk)
        capacity = event.capacity or 0
        taken = redis_sold if redis_sold is not None else sales.tickets_sold
        sections, parts_of = {}, {}  # general admission: no sections
    totals = _counts({}, capacity, held, taken, None)
    totals.update(
        sold=sales.tickets_sold,
        checked_in=sales.tickets_checked_in,
        awaiting_payment=max(taken - sales.tickets_sold, 0),
        bookings_confirmed=sales.bookings_confirmed,
        bookings_cancelled=sales.bookings_cancelled,
        bookings_failed=sales.bookings_failed,
        payments_declined=sales.payments_declined,
    )
    return {
        "event": event_summary(event) | {"tickets_sold": sales.tickets_sold},
        "totals": totals,
        "revenue": money(sales),
        "venue_revenue": venue_revenue(event.venue_id, user),
        "sections": list(sections.values()),
        "categories": [
            _category(c, category_rows.get(c.pk), parts_of.get(c.pk)) for c in categories
        ],
        "hourly": [
            {
                "hour": h.hour,
                "tickets_sold": h.tickets_sold,
                "tickets_cancelled": h.tickets_cancelled,
                "gross": h.gross,
                "refunds": h.refunds,
            }
            for h in HourlySales.objects.filter(event=event).order_by("hour")
        ],
    }


def _seated(event: Event) -> tuple[int, int, int, dict[int, dict], dict[int, dict]]:
    """(capacity, held, taken in Redis, figures per section, seat counts per section id) of a
    seated event: one Redis round trip for the status of every seat."""
    seats = list(Seat.objects.filter(seat_map_id=event.seat_map_id).values_list("id", "section_id"))
    held, taken, _ = seat_locks().seat_statuses(event.pk, [seat for seat, _ in seats])
    counts: dict[int, dict] = {}
    for seat_id, section_id in seats:
        c = counts.setdefault(section_id, {"capacity": 0, "held": 0, "taken": 0})
        c["capacity"] += 1
        c["held"] += seat_id in held
        c["taken"] += seat_id in taken
    rows = {r.section_id: r for r in SectionSales.objects.filter(event=event)}
    sections = {}
    for section in Section.objects.filter(seat_map_id=event.seat_map_id):
        c = counts.get(section.pk, {"capacity": 0, "held": 0, "taken": 0})
        sections[section.pk] = _counts(
            {"id": section.pk, "code": section.code, "name": section.name},
            c["capacity"], c["held"], c["taken"], rows.get(section.pk),
        )  # fmt: skip
    return len(seats), len(held), len(taken), sections, counts


def _category(category, row, parts) -> dict:
    capacity = sum(p["capacity"] for p in parts) if parts is not None else None
    figures = _counts(
        {
            "id": category.pk,
            "name": category.name,
            "price": category.price,
            "color": category.color,
        },
        capacity,
        sum(p["held"] for p in parts) if parts else 0,
        sum(p["taken"] for p in parts) if parts else 0,
        row,
    )
    figures["value"] = row.value if row else ZERO
    return figures


def venue_revenue(venue_id: int, user) -> dict:
    """Money of the venue's events that ``user`` may see (an organizer: only their own)."""
    rows = events_visible_to(
        user, EventSales.objects.filter(event__venue_id=venue_id), "event__organizer"
    )
    totals = rows.aggregate(
        events=Count("event"),
        gross=Sum("gross"),
        refunds=Sum("refunds"),
        commission=Sum("commission"),
    )
    gross, refunds = totals["gross"] or ZERO, totals["refunds"] or ZERO
    commission = totals["commission"] or ZERO
    return {
        "venue_id": venue_id,
        "events": totals["events"],
        "gross": gross,
        "refunds": refunds,
        "commission": commission,
        "payout": gross - refunds - commission,
    }


def cancellation_preview(events) -> dict:
    """What cancelling ``events`` would do: the confirmed bookings it cancels and the money the
    bank refunds (approved payments); unpaid bookings are cancelled without a refund."""
    bookings = list(
        Booking.objects.filter(event__in=events, status=BookingStatus.CONFIRMED)
        .select_related("buyer", "event")
        .annotate(tickets_count=Count("tickets"))
        .order_by("event__starts_at", "created_at")
    )
    paid = dict(
        Payment.objects.filter(
            booking__in=[b.pk for b in bookings], status=Payment.Status.APPROVED
        ).values_list("booking_id", "amount")
    )
    for booking in bookings:
        booking.refund = paid.get(booking.pk)
    return {
        "bookings": bookings,
        "tickets": sum(b.tickets_count for b in bookings),
        "value": sum((b.total for b in bookings), ZERO),
        "refund_total": sum(paid.values(), ZERO),
        "refunds": len(paid),
    }


def category_totals(bookings) -> list[dict]:
    """Live tickets per event and price category of ``bookings`` (the bookings list's filter)."""
    return list(
        Ticket.objects.filter(booking__in=bookings.values("pk"))
        .exclude(status=TicketStatus.CANCELLED)
        .values("event__title", "price_category__name", "currency")
        .annotate(tickets=Count("id"), value=Sum("price"))
        .order_by("event__title", "price_category__name")
    )
