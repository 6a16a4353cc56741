"""Registration: the one service that turns a held set of seats into a booking.

Both flows call ``process_booking``: the simple flow in the request, the queued flow in the
Celery worker. Order of work (see docs/architecture.md):

1. the hold must still own every seat (its lease is extended while we work);
2. ONE transaction writes the tickets, confirms the booking and adds an outbox row;
3. the confirm script moves the seats to the sold set and deletes the hold.

A crash between 2 and 3 is repaired when the command is redelivered (the booking is already
confirmed, so only step 3 runs again) or by the periodic reconciliation of the sold set.
PostgreSQL's partial unique index decides races that Redis missed: losing one is a failed
booking with reason ``seat_taken``, never a second ticket.
"""

from __future__ import annotations

import structlog
from django.db import IntegrityError, transaction
from django.db.models import Count
from django.utils import timezone

from registration_worker.background_relay import relay_in_background
from registration_worker.models import Booking, OutboxMessage, Ticket
from registration_worker.outbox import relay_after_commit, skip_commit_flush
from registration_worker.selectors import live_seat_ids
from shared import realtime
from shared.contracts import ChargeBooking, ProcessBookingCommand
from shared.db_locks import LockSpace, lock_for_transaction
from shared.enums import (
    LIVE_TICKET,
    BookingSource,
    BookingStatus,
    FailureReason,
    RegistrationStatus,
    TicketStatus,
)
from shared.exceptions import BusinessRuleViolation
from shared.locks import Hold, seat_locks
from shared.logs import current_trace_id, traced
from shared.messaging import (
    TOPIC_BOOKING_CANCELLED,
    TOPIC_BOOKING_CONFIRMED,
    TOPIC_BOOKING_FAILED,
    TOPIC_CHARGE_BOOKING,
    TOPIC_PROCESS_BOOKING,
    TOPIC_TICKET_CHECKED_IN,
    TOPIC_USER_REGISTERED,
)
from shared.ticket_codes import issue_code

log = structlog.get_logger(__name__)

# The info line of each status a booking reaches (one per booking: not on the hold path).
_STATUS_EVENTS = {
    BookingStatus.CONFIRMED: "booking confirmed",
    BookingStatus.PENDING_PAYMENT: "booking awaits payment",
    BookingStatus.FAILED: "booking failed",
    BookingStatus.CANCELLED: "booking cancelled",
}


def log_booking_status(booking: Booking) -> None:
    """Log the status ``booking`` just reached (and why, if it failed), under the bound trace."""
    fields = {"booking_id": str(booking.pk), "reference": booking.reference}
    if booking.status == BookingStatus.FAILED:
        fields["reason"] = booking.failure_reason
    log.info(_STATUS_EVENTS.get(booking.status, f"booking {booking.status}"), **fields)


class _SoldOut(Exception):
    pass


def hold_of(command: ProcessBookingCommand) -> Hold:
    return Hold(
        hold_id=command.hold_id,
        event_id=command.event_id,
        owner=str(command.buyer_id),
        seat_ids=command.seat_ids,
        quantity=len(command.lines),
        expires_ms=0,
    )


def booking_event_payload(booking: Booking, seat_ids=()) -> dict:
    """The body of every booking event in the outbox (see docs/realtime.md)."""
    return {
        "booking_id": str(booking.pk),
        "reference": booking.reference,
        "event_id": booking.event_id,
        "buyer_id": booking.buyer_id,
        "status": booking.status,
        "reason": booking.failure_reason,
        "seat_ids": list(seat_ids),
        "tracking_id": str(booking.tracking_id),
    }


def outbox_message(
    topic: str, booking: Booking, seat_ids=(), command=None, trace_id: str = ""
) -> OutboxMessage:
    """The (unsaved) outbox row of a booking event: the one shape every writer uses.

    ``command`` (a contract's dict) rides along for topics that are commands for another worker
    (``shared.messaging.COMMAND_ROUTES``). The row's trace id: ``trace_id``, else the command's,
    else the one bound now.
    """
    payload = booking_event_payload(booking, seat_ids)
    if command is not None:
        payload["command"] = command
    trace_id = trace_id or (command or {}).get("trace_id") or current_trace_id()
    return OutboxMessage(topic=topic, payload=payload, trace_id=trace_id)


def record_booking_event(
    *, topic: str, booking: Booking, seat_ids=(), command=None, relay=relay_after_commit
) -> OutboxMessage:
    """Write an outbox row; the caller must be inside the transaction that changed ``booking``.
    ``relay`` sends the row once the transaction commits."""
    message = outbox_message(topic, booking, seat_ids, command)
    message.save()
    relay(message.pk)
    return message


def record_check_in(*, ticket_id: int, event_id: int) -> None:
    """An outbox row for a ticket admitted at the door (the sales read model counts it); the
    caller must be inside the transaction that admitted it."""
    message = OutboxMessage.objects.create(
        topic=TOPIC_TICKET_CHECKED_IN,
        payload={"ticket_id": ticket_id, "event_id": event_id},
        trace_id=current_trace_id(),
    )
    relay_after_commit(message.pk)


def record_user_registered(*, user_id: int) -> OutboxMessage:
    """Announce a new account (the notifier welcomes it). The caller must be inside the
    transaction that created the user, so the row exists exactly when the user does."""
    message = OutboxMessage.objects.create(
        topic=TOPIC_USER_REGISTERED, payload={"user_id": user_id}, trace_id=current_trace_id()
    )
    relay_after_commit(message.pk)
    return message


def queue_registration(booking: Booking, command: ProcessBookingCommand) -> None:
    """Put a queued registration's command in the outbox, in the transaction that creates its
    pending ``booking``: once that commits the registration is accepted whatever the broker
    does. This process's relay thread publishes it right after the commit, without holding up
    the request; the periodic sweep publishes what the thread could not."""
    record_booking_event(
        topic=TOPIC_PROCESS_BOOKING,
        booking=booking,
        seat_ids=command.seat_ids,
        command=command.to_dict(),
        relay=relay_in_background,
    )


def tickets_for(booking: Booking, command: ProcessBookingCommand) -> list[Ticket]:
    """The unsaved tickets of ``booking``, one per line of its command, each with its code."""
    return [
        Ticket(
            booking=booking,
            event_id=command.event_id,
            seat_id=line.seat_id,
            price_category_id=line.price_category_id,
            price=line.amount,
            currency=command.currency,
            code=issue_code(command.event_id),
        )
        for line in command.lines
    ]


def process_booking(command: ProcessBookingCommand) -> Booking | None:
    """Run a registration to its end; safe to call again with the same command."""
    with traced(command.trace_id):
        return _process_booking(command)


def _process_booking(command: ProcessBookingCommand) -> Booking | None:
    booking = Booking.objects.filter(pk=command.booking_id).first()
    if booking is None:
        log.warning("booking %s of command %s is gone", command.booking_id, command.command_id)
        return None
    hold = hold_of(command)
    locks = seat_locks()
    if booking.status in (BookingStatus.CONFIRMED, BookingStatus.PENDING_PAYMENT):
        # Redelivered after a crash between the commit and the confirm script: finish step 3.
        locks.confirm(hold, force=True)
        return booking
    if booking.status != BookingStatus.PENDING:
        return booking

    with transaction.atomic():
        skip_commit_flush()  # an advisory timestamp: losing it in a crash costs nothing
        started = Booking.objects.filter(pk=booking.pk, processing_started_at__isnull=True).update(
            processing_started_at=timezone.now()
        )
    if started and booking.source == BookingSource.QUEUED:
        update = booking_event_payload(booking)
        realtime.publish_booking_update(
            booking.buyer_id, {**update, "status": RegistrationStatus.PROCESSING.value}
        )
    if check_holds([hold]) != ["ok"]:
        return fail_booking(booking_id=booking.pk, reason=FailureReason.HOLD_EXPIRED, hold=hold)

    try:
        with transaction.atomic():
            booking = Booking.objects.select_for_update().get(pk=booking.pk)
            if booking.status != BookingStatus.PENDING:
                return booking
            if command.ga_capacity is not None:
                _check_general_admission_capacity(command)
            Ticket.objects.bulk_create(tickets_for(booking, command))
            paid = command.payment_required  # a paid event: the payments saga confirms it
            booking.status = BookingStatus.PENDING_PAYMENT if paid else BookingStatus.CONFIRMED
            booking.confirmed_at = None if paid else timezone.now()
            booking.save(update_fields=["status", "confirmed_at", "updated_at"])
            charge = ChargeBooking(str(booking.pk), str(booking.pk), command.trace_id).to_dict()
            topic = TOPIC_CHARGE_BOOKING if paid else TOPIC_BOOKING_CONFIRMED
            record_booking_event(
                topic=topic,
                booking=booking,
                seat_ids=command.seat_ids,
                command=charge if paid else None,
            )
    except IntegrityError:
        log.info("booking %s lost a seat race at the unique index", command.booking_id)
        _resync_sold_seats(command.event_id, command.seat_ids)
        return fail_booking(
            booking_id=command.booking_id, reason=FailureReason.SEAT_TAKEN, hold=hold
        )
    except _SoldOut:
        return fail_booking(booking_id=command.booking_id, reason=FailureReason.SOLD_OUT, hold=hold)

    locks.confirm(hold, force=True)
    log_booking_status(booking)
    return booking


def _check_general_admission_capacity(command: ProcessBookingCommand) -> None:
    """PostgreSQL's guard for general admission, where no unique index can help.

    Must run inside the booking transaction: the advisory lock serialises the count and the
    insert of every registration for this event until commit.
    """
    lock_for_transaction(LockSpace.GENERAL_ADMISSION, [command.event_id])
    live = Ticket.objects.filter(LIVE_TICKET, event_id=command.event_id).count()
    if live + len(command.lines) > command.ga_capacity:
        raise _SoldOut


def check_holds(holds: list[Hold]) -> list[str]:
    """``SeatLocks.check`` of every hold in one round trip; where Redis lost an event's sold
    set, it is rebuilt from PostgreSQL and those holds are checked again."""
    locks = seat_locks()
    checks = locks.check_many(holds)
    lost = [i for i, check in enumerate(checks) if check == "rebuild_sold"]
    if not lost:
        return checks
    for event_id in {holds[i].event_id for i in lost}:
        locks.rebuild_sold(event_id, live_seat_ids(event_id))
    for i, check in zip(lost, locks.check_many([holds[i] for i in lost]), strict=True):
        checks[i] = check
    return checks


def _resync_sold_seats(event_id: int, seat_ids) -> None:
    """After a lost race, make Redis know the seats PostgreSQL says are sold."""
    sold = list(
        Ticket.objects.filter(LIVE_TICKET, event_id=event_id, seat_id__in=seat_ids).values_list(
            "seat_id", flat=True
        )
    )
    seat_locks().add_sold(event_id, sold)


def fail_booking(*, booking_id, reason: str, hold: Hold | None = None) -> Booking | None:
    """Mark a pending booking failed (once) and give its held seats back."""
    with transaction.atomic():
        booking = Booking.objects.select_for_update().filter(pk=booking_id).first()
        if booking is None or booking.status != BookingStatus.PENDING:
            return booking
        booking.status = BookingStatus.FAILED
        booking.failure_reason = reason
        booking.save(update_fields=["status", "failure_reason", "updated_at"])
        record_booking_event(topic=TOPIC_BOOKING_FAILED, booking=booking)
    log_booking_status(booking)
    if hold is not None:
        release_and_announce(hold=hold)
    return booking


def release_and_announce(*, hold: Hold, owner: str = "", cooldown_ms: int = 0) -> bool:
    """Release a hold (compare-and-delete) and tell watchers which seats are free again
    (the release script announces them itself, atomically with the release).

    ``cooldown_ms``: the owner may not hold these seats again that long (fair shares).
    """
    return seat_locks().release(hold, owner=owner, cooldown_ms=cooldown_ms)


def check_buyer_may_cancel(*, booking: Booking) -> None:
    """Raise BusinessRuleViolation unless the buyer may cancel ``booking`` now: it must be
    confirmed and none of its tickets may have been used at the door."""
    if booking.status != BookingStatus.CONFIRMED:
        raise BusinessRuleViolation(
            f"Only confirmed bookings can be cancelled; this one is {booking.status}.",
            code="not_cancellable",
        )
    if booking.tickets.filter(status=TicketStatus.USED).exists():
        raise _ticket_used()


def _ticket_used() -> BusinessRuleViolation:
    return BusinessRuleViolation(
        "A ticket of this booking was already used at the door; it cannot be cancelled.",
        code="ticket_used",
    )


def cancel_booking(*, booking_id, refuse_used: bool = False) -> Booking:
    """Cancel a confirmed booking: its tickets are cancelled and its seats go back on sale.

    ``refuse_used`` (a buyer's cancellation): raise ``ticket_used`` if a ticket was checked in.
    The tickets are locked first, so a scan at the door either lands before (and is seen) or
    waits and then finds the ticket cancelled.
    """
    with transaction.atomic():
        booking = Booking.objects.select_for_update().get(pk=booking_id)
        if booking.status != BookingStatus.CONFIRMED:
            return booking
        tickets = list(booking.tickets.filter(LIVE_TICKET).select_for_update())
        if refuse_used and any(t.status == TicketStatus.USED for t in tickets):
            raise _ticket_used()
        _cancel_tickets(tickets)
        booking.status = BookingStatus.CANCELLED
        booking.cancelled_at = timezone.now()
        booking.save(update_fields=["status", "cancelled_at", "updated_at"])
        record_booking_event(
            topic=TOPIC_BOOKING_CANCELLED, booking=booking, seat_ids=_seat_ids(tickets)
        )
    log_booking_status(booking)
    # The relay of BookingCancelled tells the watchers that the seats are available.
    give_back_seats(booking=booking, tickets=tickets, announce=False)
    return booking


def do_confirm_paid_booking(*, booking: Booking) -> None:
    """``pending_payment`` -> ``confirmed``, with BookingConfirmed in the outbox.

    The caller holds the booking's row lock (``select_for_update``) in its transaction and
    has checked that the booking awaits payment.
    """
    booking.status = BookingStatus.CONFIRMED
    booking.confirmed_at = timezone.now()
    booking.save(update_fields=["status", "confirmed_at", "updated_at"])
    seat_ids = booking.tickets.filter(LIVE_TICKET, seat__isnull=False).values_list(
        "seat_id", flat=True
    )
    record_booking_event(topic=TOPIC_BOOKING_CONFIRMED, booking=booking, seat_ids=list(seat_ids))


def do_fail_paid_booking(*, booking: Booking, reason: str) -> list[Ticket]:
    """``pending_payment`` -> ``failed`` with ``reason``: its tickets are cancelled and
    BookingFailed goes to the outbox. Returns the cancelled tickets.

    The caller holds the booking's row lock in its transaction and, after the commit, gives
    the seats back with ``give_back_seats(booking=..., tickets=..., announce=True)``.
    """
    tickets = list(booking.tickets.filter(LIVE_TICKET))
    _cancel_tickets(tickets)
    booking.status = BookingStatus.FAILED
    booking.failure_reason = reason
    booking.save(update_fields=["status", "failure_reason", "updated_at"])
    record_booking_event(topic=TOPIC_BOOKING_FAILED, booking=booking, seat_ids=_seat_ids(tickets))
    return tickets


def give_back_seats(*, booking: Booking, tickets: list[Ticket], announce: bool) -> None:
    """Put the seats of ``booking``'s cancelled ``tickets`` back on sale in Redis.

    Call right after the commit that cancelled them: a crash in between leaves seats unsold in
    PostgreSQL but sold in Redis, which refuses sales that would succeed, and the
    reconciliation only adds. ``announce``: tell the watchers here (no relayed event does).
    """
    seat_ids = _seat_ids(tickets)
    seat_locks().unsell(
        booking.event_id,
        seat_ids,
        quantity=sum(1 for t in tickets if t.seat_id is None),
        owner=str(booking.buyer_id),
        hold_id=booking.hold_id,
    )
    if announce:
        realtime.publish_seat_changes(booking.event_id, seat_ids, "available")


def _cancel_tickets(tickets: list[Ticket]) -> None:
    Ticket.objects.filter(pk__in=[t.pk for t in tickets]).update(status=TicketStatus.CANCELLED)


def _seat_ids(tickets: list[Ticket]) -> list[int]:
    return [t.seat_id for t in tickets if t.seat_id is not None]


def expire_stale_registrations(*, older_than_seconds: int = 60) -> int:
    """Fail pending bookings whose hold is gone (it expired before a worker got to them)."""
    cutoff = timezone.now() - timezone.timedelta(seconds=older_than_seconds)
    failed = 0
    locks = seat_locks()
    for booking_id, hold_id in Booking.objects.filter(
        status=BookingStatus.PENDING, created_at__lt=cutoff
    ).values_list("pk", "hold_id"):
        if locks.get_hold(hold_id) is None:
            fail_booking(booking_id=booking_id, reason=FailureReason.HOLD_EXPIRED)
            failed += 1
    return failed


def reconcile_sold_seats(*, event_ids) -> None:
    """Bring Redis's sold sets up to PostgreSQL's live tickets for the given events."""
    locks = seat_locks()
    seated = (
        Ticket.objects.filter(LIVE_TICKET, event_id__in=event_ids, seat__isnull=False)
        .values_list("event_id", "seat_id")
        .order_by()
    )
    by_event: dict[int, list[int]] = {e: [] for e in event_ids}
    for event_id, seat_id in seated:
        by_event[event_id].append(seat_id)
    for event_id, seats in by_event.items():
        locks.add_sold(event_id, seats)
    ga = (
        Ticket.objects.filter(LIVE_TICKET, event_id__in=event_ids, seat__isnull=True)
        .values("event_id")
        .annotate(n=Count("id"))
        .order_by()
    )
    for row in ga:
        locks.rebuild_ga_sold(row["event_id"], row["n"])
