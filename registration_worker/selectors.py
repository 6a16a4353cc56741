"""Reads of the booking side used by reports, tests and benchmarks."""

from django.db.models import Count

from registration_worker.models import Ticket
from shared.enums import TicketStatus


def double_sold_seats(event_id: int) -> list[int]:
    """Seats of an event with more than one live ticket (must always be empty)."""
    return list(
        Ticket.objects.filter(event_id=event_id, seat__isnull=False)
        .exclude(status=TicketStatus.CANCELLED)
        .values("seat_id")
        .annotate(n=Count("id"))
        .filter(n__gt=1)
        .values_list("seat_id", flat=True)
    )
