"""Reads of the booking side: live tickets (for rebuilding Redis), reports, tests, benchmarks."""

from django.db.models import Count
from django.utils import timezone

from registration_worker.models import OutboxMessage, Ticket
from shared.enums import LIVE_TICKET


def double_sold_seats(event_id: int) -> list[int]:
    """Seats of an event with more than one live ticket (must always be empty)."""
    return list(
        Ticket.objects.filter(LIVE_TICKET, event_id=event_id, seat__isnull=False)
        .values("seat_id")
        .annotate(n=Count("id"))
        .filter(n__gt=1)
        .values_list("seat_id", flat=True)
    )


def live_seat_ids(event_id: int) -> list[int]:
    return list(
        Ticket.objects.filter(LIVE_TICKET, event_id=event_id, seat__isnull=False).values_list(
            "seat_id", flat=True
        )
    )


def live_ticket_count(event_id: int) -> int:
    return Ticket.objects.filter(LIVE_TICKET, event_id=event_id).count()


def live_tickets_by_buyer(event_id: int) -> dict[str, dict[str, int]]:
    """buyer id -> hold id of the booking -> live tickets: what Redis counts per buyer."""
    rows = (
        Ticket.objects.filter(LIVE_TICKET, event_id=event_id)
        .values("booking__buyer_id", "booking__hold_id")
        .annotate(n=Count("id"))
        .order_by()
    )
    booked: dict[str, dict[str, int]] = {}
    for row in rows:
        buyer = str(row["booking__buyer_id"])
        booked.setdefault(buyer, {})[row["booking__hold_id"]] = row["n"]
    return booked


def outbox_lag_seconds() -> float:
    """Age of the oldest outbox row not relayed yet; 0 when every row is sent.

    Read through the ``outbox_unsent`` partial index (oldest id first), so a backlog costs
    one index probe.
    """
    oldest = (
        OutboxMessage.objects.filter(sent_at__isnull=True)
        .order_by("id")
        .values_list("created_at", flat=True)
        .first()
    )
    return 0.0 if oldest is None else max(0.0, (timezone.now() - oldest).total_seconds())
