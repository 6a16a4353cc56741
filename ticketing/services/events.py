"""Organizer actions on events. Every change republishes the rules the hold path reads."""

from django.db import transaction

from payments.services import refund_and_cancel_booking
from registration_worker.models import Booking
from shared.enums import BookingStatus
from ticketing.models import Event
from ticketing.services.event_rules import publish_event_rules


def _set_status(event: Event, status: str) -> None:
    event.status = status
    event.save(update_fields=["status", "updated_at"])
    transaction.on_commit(lambda: publish_event_rules(event))


def open_sales(*, event: Event) -> None:
    if event.status == Event.Status.CANCELLED:
        raise ValueError("A cancelled event cannot go on sale again.")
    _set_status(event, Event.Status.ON_SALE)


def close_sales(*, event: Event) -> None:
    if event.status != Event.Status.CANCELLED:
        _set_status(event, Event.Status.CLOSED)


def cancel_event(*, event: Event) -> int:
    """Stop sales and cancel every confirmed booking (each buyer is told through the outbox).

    Paid bookings are refunded first; if the payment provider is down this raises
    DependencyUnavailable part-way and running it again finishes the job.
    """
    with transaction.atomic():
        _set_status(event, Event.Status.CANCELLED)
    cancelled = 0
    for booking_id in Booking.objects.filter(
        event=event, status=BookingStatus.CONFIRMED
    ).values_list("pk", flat=True):
        refund_and_cancel_booking(booking_id=booking_id, by_buyer=False)
        cancelled += 1
    return cancelled
