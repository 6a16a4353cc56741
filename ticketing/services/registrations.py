"""Registration of a hold: the simple flow runs it now, the queued flow hands it to the worker.

Both end in ``registration_worker.services.process_booking``, so they cannot drift apart.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from decimal import Decimal

import structlog
from django.db import IntegrityError, transaction
from django.utils import timezone

from payments import services as payments
from registration_worker.models import Booking
from registration_worker.services import process_booking, queue_registration
from shared import metrics
from shared.contracts import ProcessBookingCommand, TicketLine
from shared.enums import BookingSource, BookingStatus, FailureReason, RegistrationMode
from shared.exceptions import BusinessRuleViolation, Conflict, TicketingError
from shared.logs import new_trace_id, traced
from ticketing.selectors import seat_pricing
from ticketing.services.event_rules import get_event_rules
from ticketing.services.holds import access_hold

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class Registration:
    booking: Booking
    replayed: bool

    @property
    def tracked(self) -> bool:
        """A queued registration the buyer follows by its tracking id (the broker took it)."""
        return (
            self.booking.source == BookingSource.QUEUED
            and self.booking.failure_reason != FailureReason.BROKER_UNAVAILABLE
        )


# A registration that lost the race for its seats is a conflict; any other failure breaks a rule.
_CONFLICT_REASONS = {FailureReason.SEAT_TAKEN, FailureReason.SOLD_OUT}


def check_registration_booked(booking: Booking) -> None:
    """Raise the error a failed registration answers with (409 for a lost race, else 422).

    A booking that is confirmed, or awaits its payment (a paid event), passes.
    """
    if booking.status in (BookingStatus.CONFIRMED, BookingStatus.PENDING_PAYMENT):
        return
    reason = booking.failure_reason
    error = Conflict if reason in _CONFLICT_REASONS else BusinessRuleViolation
    raise error(
        FailureReason(reason).label
        if reason in FailureReason.values
        else "The registration failed.",
        details={"booking": str(booking.pk), "reason": reason},
        code=reason or "registration_failed",
    )


def request_fingerprint(hold_id: str) -> str:
    return hashlib.sha256(f"hold={hold_id}".encode()).hexdigest()


# A simple registration runs in milliseconds: one still pending after this long was cut off
# by our own outage (its request answered 503), and a retry with its key runs it again.
INTERRUPTED_AFTER_SECONDS = 5


def _replay(user_id: int, idempotency_key: str, fingerprint: str) -> Registration | None:
    booking = Booking.objects.filter(buyer_id=user_id, idempotency_key=idempotency_key).first()
    if booking is None:
        return None
    if booking.request_fingerprint != fingerprint:
        raise BusinessRuleViolation(
            "This Idempotency-Key was already used with a different request.",
            code="idempotency_key_reused",
        )
    if booking.failure_reason == FailureReason.BROKER_UNAVAILABLE:
        # Failed by our outage, not the buyer's doing (before registrations were outbox-first):
        # free the key, so this request registers afresh.
        retired = f"{idempotency_key[:91]}~{booking.pk.hex[:8]}"
        Booking.objects.filter(pk=booking.pk).update(idempotency_key=retired)
        return None
    if booking.source == BookingSource.SIMPLE and booking.status == BookingStatus.PENDING:
        age = (timezone.now() - booking.created_at).total_seconds()
        if age < INTERRUPTED_AFTER_SECONDS:
            raise Conflict("The first request with this key is still running.", code="in_progress")
    return Registration(booking, replayed=True)


def _interrupted(booking: Booking) -> bool:
    return booking.source == BookingSource.SIMPLE and booking.status == BookingStatus.PENDING


def _ticket_lines(hold, rules) -> tuple[list[TicketLine], Decimal, str]:
    pricing = seat_pricing(hold.event_id)
    if hold.seat_ids:
        gone = [s for s in hold.seat_ids if s not in pricing.seat_category]
        if gone:
            # The organizer changed the map or the categories after the seats were held.
            raise BusinessRuleViolation(
                "Some held seats are no longer on sale; hold other seats.",
                details={"seats": gone},
                code="unknown_seats",
            )
        lines = []
        for seat_id in hold.seat_ids:
            category = pricing.categories[pricing.seat_category[seat_id]]
            lines.append(TicketLine(category.id, category.price, seat_id))
    else:
        if not pricing.categories:
            raise BusinessRuleViolation("This event has no price yet.", code="no_price")
        category = min(pricing.categories.values(), key=lambda c: Decimal(c.price))
        lines = [TicketLine(category.id, category.price) for _ in range(hold.quantity)]
    total = sum((line.amount for line in lines), Decimal("0"))
    currency = pricing.categories[lines[0].price_category_id].currency
    return lines, total, currency


def _command(booking, hold, rules, lines, currency, *, trace_id, paid) -> ProcessBookingCommand:
    return ProcessBookingCommand(
        command_id=str(booking.pk),
        booking_id=str(booking.pk),
        event_id=hold.event_id,
        hold_id=hold.hold_id,
        buyer_id=booking.buyer_id,
        currency=currency,
        lines=tuple(lines),
        ga_capacity=rules.capacity,
        trace_id=trace_id,
        payment_required=paid,
    )


def register_hold(
    *, user_id: int, hold_id: str, idempotency_key: str, trace_id: str = "", payment_token: str = ""
) -> Registration:
    """Accept a registration for a buyer's hold and run it (simple) or queue it (queued).

    A paid event's registration ends in ``pending_payment`` and the payments saga takes over.
    Counted by outcome (``ticketing_registrations_total``), and a simple flow's booking by its
    result (``ticketing_bookings_total``).
    """
    try:
        registration = _register_hold(
            user_id, hold_id, idempotency_key, trace_id=trace_id, payment_token=payment_token
        )
    except TicketingError as refused:
        metrics.REGISTRATIONS.labels(refused.code).inc()
        raise
    booking = registration.booking if registration is not None else None
    if booking is None:  # gone meanwhile: nothing was decided here
        return registration
    if registration.replayed:
        outcome = "replayed"
    elif booking.source == BookingSource.QUEUED:
        outcome = "accepted"  # the worker decides; it counts the booking
    else:
        outcome = booking.failure_reason or booking.status
        metrics.BOOKINGS.labels(BookingSource.SIMPLE, outcome).inc()
    metrics.REGISTRATIONS.labels(outcome).inc()
    return registration


class _KeyTaken(Exception):
    """The buyer's Idempotency-Key already names a booking (the insert hit its unique index)."""


def _register_hold(
    user_id: int, hold_id: str, idempotency_key: str, *, trace_id: str, payment_token: str
) -> Registration:
    fingerprint = request_fingerprint(hold_id)
    trace_id = trace_id or new_trace_id()
    try:
        # Nearly every request is the buyer's first with its key: straight to the insert, whose
        # unique index catches a repeat. Only a repeat or a refusal looks up an earlier booking
        # (a retry may find its hold already taken by that booking).
        booking, command = _accept(
            user_id, hold_id, idempotency_key, fingerprint, trace_id, payment_token
        )
    except (TicketingError, _KeyTaken) as refused:
        replay = _replay(user_id, idempotency_key, fingerprint)
        if replay is None:
            if not isinstance(refused, _KeyTaken):
                raise
            try:  # the key was freed by _replay (an outage's failure): accept afresh
                booking, command = _accept(
                    user_id, hold_id, idempotency_key, fingerprint, trace_id, payment_token
                )
            except _KeyTaken:  # the same key raced us; answer as a replay would
                return _replay(user_id, idempotency_key, fingerprint)
        else:
            return _rerun_if_interrupted(replay, user_id, hold_id, trace_id)
    if booking.source == BookingSource.SIMPLE:
        return Registration(process_booking(command), replayed=False)
    return Registration(booking, replayed=False)


def _rerun_if_interrupted(
    replay: Registration, user_id: int, hold_id: str, trace_id: str
) -> Registration:
    if not _interrupted(replay.booking):
        return replay
    # Cut off by our own outage: run it again (idempotent by booking id), as first asked.
    booking = replay.booking
    hold = access_hold(user_id=user_id, hold_id=hold_id)
    rules = get_event_rules(hold.event_id)
    lines, _total, currency = _ticket_lines(hold, rules)
    paid = payments.has_payment(booking=booking)
    command = _command(booking, hold, rules, lines, currency, trace_id=trace_id, paid=paid)
    return Registration(process_booking(command), replayed=True)


def _accept(
    user_id: int,
    hold_id: str,
    idempotency_key: str,
    fingerprint: str,
    trace_id: str,
    payment_token: str,
) -> tuple[Booking, ProcessBookingCommand]:
    """Write the booking for the buyer's live hold (with its command in the outbox when
    queued); raise ``_KeyTaken`` if the key already has one."""
    hold = access_hold(user_id=user_id, hold_id=hold_id)
    rules = get_event_rules(hold.event_id)
    lines, total, currency = _ticket_lines(hold, rules)
    paid = payments.check_payment_token(
        requires_payment=rules.requires_payment, total=total, token=payment_token
    )
    queued = rules.registration_mode == RegistrationMode.QUEUED
    try:
        with transaction.atomic():
            booking = Booking.objects.create(
                buyer_id=user_id,
                event_id=hold.event_id,
                source=BookingSource.QUEUED if queued else BookingSource.SIMPLE,
                idempotency_key=idempotency_key,
                request_fingerprint=fingerprint,
                hold_id=hold_id,
                total=total,
                currency=currency,
            )
            if paid:
                payments.open_payment(booking=booking, token=payment_token)
            command = _command(booking, hold, rules, lines, currency, trace_id=trace_id, paid=paid)
            if queued:
                # Accepted once this commits: the command is in the outbox with the booking.
                queue_registration(booking, command)
    except IntegrityError as taken:
        raise _KeyTaken from taken

    with traced(trace_id):
        log.info(
            "registration accepted",
            booking_id=str(booking.pk),
            event_id=booking.event_id,
            flow=booking.source,
            paid=paid,
        )
    return booking, command
