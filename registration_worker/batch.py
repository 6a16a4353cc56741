"""Registration in batches: the queued flow's worker books many commands per transaction.

The rules are those of ``services.process_booking`` (read its docstring first); the fixed costs
are paid once per batch instead of once per booking:

1. one UPDATE marks the batch's pending bookings as processing;
2. one Redis round trip checks (and extends) every hold;
3. ONE transaction locks the bookings and writes every booking's tickets, its new status and
   its outbox row (multi-row inserts, one WAL flush). The tickets go in as one insert inside a
   savepoint; if the partial unique index refuses it, each booking is retried in a savepoint of
   its own, so a lost seat race fails only the bookings that lost it;
4. after the commit one Redis round trip moves every booked hold to the sold set, failed
   bookings give their seats back, and the outbox rows are relayed.

Idempotent by booking id (the command id): a redelivered command whose booking is already
confirmed only repeats step 4, one whose booking failed does nothing. A crash before the commit
leaves nothing behind; the broker redelivers the unacknowledged commands.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

import structlog
from django.db import IntegrityError, OperationalError, transaction
from django.utils import timezone

from registration_worker.models import Booking, OutboxMessage, Ticket
from registration_worker.outbox import relay_messages, skip_commit_flush
from registration_worker.services import (
    _resync_sold_seats,
    booking_event_payload,
    check_holds,
    hold_of,
    log_booking_status,
    outbox_message,
    release_and_announce,
    tickets_for,
)
from shared import metrics, realtime
from shared.contracts import ChargeBooking, ProcessBookingCommand
from shared.db_locks import LockSpace, lock_for_transaction
from shared.enums import (
    LIVE_TICKET,
    BookingSource,
    BookingStatus,
    FailureReason,
    RegistrationStatus,
)
from shared.locks import Hold, seat_locks
from shared.logs import traced
from shared.messaging import TOPIC_BOOKING_CONFIRMED, TOPIC_BOOKING_FAILED, TOPIC_CHARGE_BOOKING

log = structlog.get_logger(__name__)

# Deadlock and serialization failure: PostgreSQL rolled the whole batch back, so run it again.
_RETRY_SQLSTATES = {"40P01", "40001"}
_ATTEMPTS = 3


@dataclass
class _Item:
    command: ProcessBookingCommand
    hold: Hold
    check: str  # the hold's state in Redis before the transaction
    booking: Booking | None = None
    reason: str = ""  # why it failed in this batch ("" while it may still succeed)
    tickets: list[Ticket] = field(default_factory=list)


def process_bookings(commands: Sequence[ProcessBookingCommand]) -> dict[str, str | None]:
    """Run a batch of registrations to their end; booking id -> final status (None: gone).

    Safe to call again with any of the same commands, in any batch.
    """
    by_id: dict[str, ProcessBookingCommand] = {}
    for command in commands:
        by_id.setdefault(command.booking_id, command)  # a redelivered copy in the same batch
    found = Booking.objects.in_bulk([uuid.UUID(b) for b in by_id])
    statuses: dict[str, str | None] = {}
    reconfirm: list[Hold] = []
    refailed: list[Hold] = []
    pending: list[tuple[ProcessBookingCommand, Booking]] = []
    for booking_id, command in by_id.items():
        booking = found.get(uuid.UUID(booking_id))
        if booking is None:
            with traced(command.trace_id):
                log.warning("booking %s of command %s is gone", booking_id, command.command_id)
            statuses[booking_id] = None
            continue
        statuses[booking_id] = booking.status
        if booking.status in (BookingStatus.CONFIRMED, BookingStatus.PENDING_PAYMENT):
            # Redelivered after a crash between the commit and the confirm: finish step 4.
            reconfirm.append(hold_of(command))
        elif booking.status == BookingStatus.PENDING:
            pending.append((command, booking))
        elif booking.status == BookingStatus.FAILED:
            # Failed, then an outage cut the release off before the retry: release again
            # (compare-and-delete, so it never frees seats another hold owns).
            refailed.append(hold_of(command))
    for hold in refailed:
        release_and_announce(hold=hold)
    if not pending:
        seat_locks().confirm_many(reconfirm)
        return statuses

    _mark_processing([booking for _, booking in pending])
    holds = [hold_of(command) for command, _ in pending]
    checks = check_holds(holds)
    items = [
        _Item(command, hold, check)
        for (command, _), hold, check in zip(pending, holds, checks, strict=True)
    ]
    items, outbox_ids = _book_with_retries(items)

    # After the commit: the tickets exist, so the seats are sold whatever the leases did.
    booked = [i for i in items if i.booking and i.booking.status != BookingStatus.FAILED]
    seat_locks().confirm_many(reconfirm + [i.hold for i in booked])
    for item in items:
        if item.booking is None:
            continue
        statuses[item.command.booking_id] = item.booking.status
        if item.reason == FailureReason.SEAT_TAKEN:
            _resync_sold_seats(item.command.event_id, item.command.seat_ids)
        if item.reason:
            release_and_announce(hold=item.hold)
    relay_messages(outbox_ids, limit=len(outbox_ids))
    for item in items:
        if item.booking is not None:
            with traced(item.command.trace_id):  # each booking's line under its own request's
                log_booking_status(item.booking)
    _count_decided(items)
    return statuses


def _count_decided(items: list[_Item]) -> None:
    """Bookings this batch decided, by outcome, and how long each waited since it was accepted."""
    now = timezone.now()
    for item in items:
        booking = item.booking
        if booking is None:
            continue  # decided by another delivery of the command
        metrics.BOOKINGS.labels(booking.source, booking.failure_reason or booking.status).inc()
        metrics.BOOKING_LATENCY.observe((now - booking.created_at).total_seconds())


def _mark_processing(bookings: list[Booking]) -> None:
    """Stamp ``processing_started_at`` once and tell queued buyers their booking is running."""
    fresh = [b for b in bookings if b.processing_started_at is None]
    if not fresh:
        return
    with transaction.atomic():
        skip_commit_flush()  # an advisory timestamp: losing it in a crash costs nothing
        Booking.objects.filter(
            pk__in=[b.pk for b in fresh], processing_started_at__isnull=True
        ).update(processing_started_at=timezone.now())
    for booking in fresh:
        if booking.source == BookingSource.QUEUED:
            update = booking_event_payload(booking)
            realtime.publish_booking_update(
                booking.buyer_id, {**update, "status": RegistrationStatus.PROCESSING.value}
            )


def _book_with_retries(items: list[_Item]) -> tuple[list[_Item], list[int]]:
    for attempt in range(1, _ATTEMPTS + 1):
        try:
            return _book(items)
        except OperationalError as exc:
            if getattr(exc.__cause__, "sqlstate", None) not in _RETRY_SQLSTATES:
                raise
            if attempt == _ATTEMPTS:
                raise
            log.info("booking batch rolled back (%s), attempt %s", exc, attempt)
            for item in items:
                item.booking, item.reason, item.tickets = None, "", []
    raise AssertionError("unreachable")


def _book(items: list[_Item]) -> tuple[list[_Item], list[int]]:
    """The batch's one transaction; returns the items with their booking and the outbox ids.

    ``item.booking`` stays None for a booking another worker already finished.
    """
    with transaction.atomic():
        # Locked in key order, so two batches that share bookings cannot deadlock on them.
        locked = {
            str(b.pk): b
            for b in Booking.objects.select_for_update()
            .filter(pk__in=[i.command.booking_id for i in items])
            .order_by("pk")
        }
        live = []
        for item in items:
            booking = locked.get(item.command.booking_id)
            if booking is None or booking.status != BookingStatus.PENDING:
                continue  # another delivery of this command got there first
            item.booking = booking
            if item.check != "ok":
                item.reason = FailureReason.HOLD_EXPIRED
            else:
                live.append(item)
        _check_general_admission_capacity([i for i in live if i.command.ga_capacity is not None])
        _insert_tickets([i for i in live if not i.reason])
        return items, _finish([i for i in items if i.booking is not None])


def _check_general_admission_capacity(items: list[_Item]) -> None:
    """PostgreSQL's guard for general admission, where no unique index can help.

    The advisory lock of each event (taken in event order, held until commit) serialises the
    count and the inserts of every registration for that event; within the batch the bookings
    take what is left in command order and the rest fail ``sold_out``.
    """
    events = sorted({i.command.event_id for i in items})
    if not events:
        return
    lock_for_transaction(LockSpace.GENERAL_ADMISSION, events)
    live = Counter(
        Ticket.objects.filter(LIVE_TICKET, event_id__in=events).values_list("event_id", flat=True)
    )
    for item in items:
        command = item.command
        if live[command.event_id] + len(command.lines) > command.ga_capacity:
            item.reason = FailureReason.SOLD_OUT
        else:
            live[command.event_id] += len(command.lines)


def _insert_tickets(items: list[_Item]) -> None:
    """Every item's tickets in one insert; on a lost race, a savepoint per booking."""
    for item in items:
        item.tickets = tickets_for(item.booking, item.command)
    # Seats in a fixed order: two batches racing for the same seats wait, never deadlock.
    everything = sorted(
        (t for i in items for t in i.tickets), key=lambda t: (t.event_id, t.seat_id or 0)
    )
    if not everything:
        return
    try:
        with transaction.atomic():
            Ticket.objects.bulk_create(everything)
        return
    except IntegrityError:
        log.info("a booking batch lost a seat race; booking one by one")
    for item in items:
        # Fresh instances: the refused ones carry no state worth keeping.
        item.tickets = tickets_for(item.booking, item.command)
        try:
            with transaction.atomic():
                Ticket.objects.bulk_create(item.tickets)
        except IntegrityError:
            with traced(item.command.trace_id):
                log.info("booking %s lost a seat race at the unique index", item.command.booking_id)
            item.reason = FailureReason.SEAT_TAKEN
            item.tickets = []


def _finish(items: list[_Item]) -> list[int]:
    """New statuses and outbox rows of the batch's bookings (inside its transaction)."""
    now = timezone.now()
    messages = []
    for item in items:
        booking, command = item.booking, item.command
        booking.updated_at = now
        trace_id = command.trace_id  # the batch mixes requests: each row gets its own
        if item.reason:
            booking.status, booking.failure_reason = BookingStatus.FAILED, item.reason
            messages.append(outbox_message(TOPIC_BOOKING_FAILED, booking, trace_id=trace_id))
            continue
        paid = command.payment_required  # a paid event: the payments saga confirms it
        booking.status = BookingStatus.PENDING_PAYMENT if paid else BookingStatus.CONFIRMED
        booking.confirmed_at = None if paid else now
        if paid:
            charge = ChargeBooking(str(booking.pk), str(booking.pk), command.trace_id).to_dict()
            messages.append(outbox_message(TOPIC_CHARGE_BOOKING, booking, command.seat_ids, charge))
        else:
            messages.append(
                outbox_message(TOPIC_BOOKING_CONFIRMED, booking, command.seat_ids, None, trace_id)
            )
    # One UPDATE per outcome (confirmed, awaiting payment, failed for a reason): bulk_update's
    # CASE per row costs more to build in Python than the whole batch costs PostgreSQL.
    outcomes: dict[tuple, list] = {}
    for item in items:
        b = item.booking
        outcomes.setdefault((b.status, b.failure_reason, b.confirmed_at), []).append(b.pk)
    for (status, reason, confirmed_at), pks in outcomes.items():
        Booking.objects.filter(pk__in=pks).update(
            status=status, failure_reason=reason, confirmed_at=confirmed_at, updated_at=now
        )
    return [m.pk for m in OutboxMessage.objects.bulk_create(messages)]
