"""Check-in at the door: a scanned ticket code is admitted exactly once.

The code's HMAC is checked before any query, so forged or mistyped codes cost no database
work. Admission locks the ticket's row: concurrent scans of one code wait for each other, the
first admits a valid ticket of a confirmed booking, the others then read it used and answer 409.
"""

import zoneinfo
from dataclasses import dataclass
from datetime import datetime

from django.db import transaction
from django.utils import timezone

from registration_worker.models import Ticket
from registration_worker.services import record_check_in
from shared.access import EventAction
from shared.enums import BookingStatus, TicketStatus
from shared.exceptions import Conflict, NotFound, PermissionDenied, TicketingError
from shared.ticket_codes import InvalidTicketCode, verify_code
from ticketing.access import access_event
from ticketing.models import Event


class InvalidTicketCodeError(TicketingError):
    """400: the code is malformed, truncated or not signed by us."""

    http_status = 400
    code = "invalid_ticket_code"


class CheckInNotAllowed(TicketingError):
    """403: the scanning user may not check in tickets of this event."""

    http_status = 403
    code = "permission_denied"


class TicketAlreadyUsed(Conflict):
    """409: the ticket was checked in before; ``details`` says when."""

    code = "ticket_already_used"


class TicketNotValid(TicketingError):
    """410: the ticket (or its event) was cancelled."""

    http_status = 410
    code = "ticket_cancelled"


@dataclass(frozen=True)
class CheckIn:
    ticket: Ticket
    checked_in_at: datetime


def _local_time(moment: datetime | None, event: Event) -> str:
    if moment is None:
        return "an unknown time"
    time_zone = event.venue.time_zone
    local = moment.astimezone(zoneinfo.ZoneInfo(time_zone))
    return f"{local:%Y-%m-%d %H:%M:%S} ({time_zone})"


def check_code(code) -> tuple[str, int]:
    """Normalize and verify a scanned code without the database; return (code, event id)."""
    if not isinstance(code, str):
        raise InvalidTicketCodeError("The ticket code must be a string.")
    normalized = code.strip().upper()
    try:
        verified = verify_code(normalized)
    except InvalidTicketCode as exc:
        raise InvalidTicketCodeError(str(exc)) from exc
    return normalized, verified.event_id


def access_event_for_check_in(user, event_id: int) -> Event:
    """The event, if ``user`` may admit people to it (its organizer and admins only)."""
    try:
        return access_event(
            user, event_id, EventAction.CHECK_IN, Event.objects.select_related("venue")
        )
    except (NotFound, PermissionDenied) as exc:
        # A validly signed code of an unknown event means the row is gone; either way the
        # scanner learns nothing about events it does not run.
        raise CheckInNotAllowed("You may not check in tickets for this event.") from exc


def check_in_ticket(code, by_user) -> CheckIn:
    """Admit the ticket carrying ``code``, once. Needs no transaction from the caller.

    Raises ``InvalidTicketCodeError`` (400), ``CheckInNotAllowed`` (403), ``NotFound`` (404),
    ``TicketAlreadyUsed`` (409, with ``checked_in_at``) or ``TicketNotValid`` (410).
    """
    code, event_id = check_code(code)
    event = access_event_for_check_in(by_user, event_id)
    if event.status == Event.Status.CANCELLED:
        raise TicketNotValid(
            "This event was cancelled; its tickets are no longer valid.", code="event_cancelled"
        )

    with transaction.atomic():
        # The row lock makes concurrent scans of one code queue here; each then reads the
        # ticket as the previous scan left it. (A conditional UPDATE filtering on the booking
        # would go through a subquery PostgreSQL does not re-check after the wait.)
        ticket = (
            Ticket.objects.select_for_update(of=("self",))
            .select_related("booking__buyer", "event__venue", "seat__section", "price_category")
            .filter(code=code, event_id=event.pk)
            .first()
        )
        admitted = (
            ticket is not None
            and ticket.status == TicketStatus.VALID
            and ticket.booking.status == BookingStatus.CONFIRMED  # not while a payment is pending
        )
        if admitted:
            ticket.status, ticket.checked_in_at = TicketStatus.USED, timezone.now()
            ticket.save(update_fields=["status", "checked_in_at"])
            record_check_in(ticket_id=ticket.pk, event_id=event.pk)  # for the sales figures
    if ticket is None:
        raise NotFound("No ticket with this code exists.")
    if admitted:
        return CheckIn(ticket=ticket, checked_in_at=ticket.checked_in_at)
    if ticket.status == TicketStatus.USED:
        first = ticket.checked_in_at
        raise TicketAlreadyUsed(
            f"This ticket was already checked in at {_local_time(first, event)}.",
            details={"checked_in_at": first.isoformat() if first else None},
        )
    if ticket.status == TicketStatus.VALID:
        raise TicketNotValid("This booking is not paid yet.", code="booking_not_paid")
    raise TicketNotValid("This ticket was cancelled and does not admit anyone.")
