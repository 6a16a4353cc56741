"""The payments saga: charge a booking, then confirm it or compensate; refunds.

A paid booking leaves the registration service in ``pending_payment`` with its tickets written
(the unique index keeps the seats) and a ChargeBooking command in the outbox. From there:

* ``perform_charge`` (the ``payments`` queue's task) charges with the booking's id as the
  idempotency key. Approved: ONE transaction confirms the booking, approves the Payment and
  writes BookingConfirmed to the outbox (email and ``/ws/me/`` push follow through the relay).
  Declined: ONE transaction cancels the tickets, fails the booking (``payment_declined``) and
  writes BookingFailed; after the commit the seats go back on sale in Redis and watchers are
  told. Unknown (timeout, bank down): the Payment is marked ``unknown`` and ``PaymentPending``
  is raised so the task retries with backoff; every later attempt LOOKS UP the key before it
  charges, so the bank never charges twice.
* ``sweep_payments`` (beat) compensates bookings still unpaid at their deadline (after a
  lookup: an approved charge confirms instead), refunds money that outlived its booking (a
  charge approved after the compensation) and finishes refunds whose cancellation was cut off.
* ``refund_and_cancel_booking`` refunds a paid booking through the provider, then runs the
  registration worker's ``cancel_booking`` (tickets cancelled, seats on sale, email).

Every step and its outcome is a PaymentAttempt row, shown on the booking in the admin.
Provider calls never run inside a database transaction.
"""

from __future__ import annotations

import time
from datetime import timedelta
from decimal import Decimal

import structlog
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from payments import commission
from payments.breaker import provider_circuit_open
from payments.models import Payment, PaymentAttempt
from payments.providers.base import Outcome, ProviderResult, get_provider
from payments.selectors import refund_deadline
from registration_worker.models import Booking
from registration_worker.services import (
    cancel_booking,
    check_buyer_may_cancel,
    do_confirm_paid_booking,
    do_fail_paid_booking,
    give_back_seats,
    log_booking_status,
)
from shared import metrics
from shared.enums import BookingStatus, EventStatus, FailureReason
from shared.exceptions import BusinessRuleViolation, DependencyUnavailable
from shared.locks import seat_locks

log = structlog.get_logger(__name__)

SEATS_SETTLE_SECONDS = 2.0


class PaymentPending(Exception):
    """This step cannot finish now (the bank did not answer, the seats are not settled yet);
    run it again later. Raised only after the state so far is committed."""


# --- registration: called by ticketing ----------------------------------------------------


def check_payment_token(*, requires_payment: bool, total: Decimal, token: str) -> bool:
    """Whether the registration must be paid; raises 422 ``payment_token_required`` if it must
    and the buyer gave no token. Free events (and free orders) need none."""
    if not requires_payment or total <= 0:
        return False
    if not token:
        raise BusinessRuleViolation(
            "This event is paid: pass a payment_token from the payment provider.",
            code="payment_token_required",
        )
    return True


def has_payment(*, booking: Booking) -> bool:
    """Whether the registration of ``booking`` opened a payment (it is a paid one)."""
    return Payment.objects.filter(booking=booking).exists()


def open_payment(*, booking: Booking, token: str) -> Payment:
    """The booking's Payment, pending, with its commission; call in the booking's transaction.

    Only the provider's token reference is stored, never card data.
    """
    event = booking.event
    percent, fixed_fee = commission.rate_of(event.organizer_id)
    parts = commission.split(booking.total, booking.currency, percent, fixed_fee)
    return Payment.objects.create(
        booking=booking,
        amount=parts.gross,
        currency=booking.currency,
        commission=parts.commission,
        organizer_share=parts.organizer_share,
        provider=get_provider().name,
        token_ref=token,
        idempotency_key=str(booking.pk),
        deadline_at=timezone.now() + timedelta(minutes=event.payment_deadline_minutes),
    )


# --- the charge step ------------------------------------------------------------------------


def perform_charge(*, booking_id) -> str:
    """Charge a booking awaiting payment and settle it; safe to run any number of times.

    Raises PaymentPending when the bank's answer is unknown (the caller retries later).
    """
    payment = _payment_of(booking_id)
    if payment is None:
        log.warning("booking %s has no payment to charge", booking_id)
        return "no_payment"
    if payment.booking.status != BookingStatus.PENDING_PAYMENT:
        return payment.booking.status  # settled already: a redelivery or a retry
    if timezone.now() >= payment.deadline_at:
        return expire_unpaid(booking_id=booking_id)  # too late to charge now
    result = _lookup(payment) if payment.attempts else None  # an earlier call may have charged
    if result is None or result.outcome == Outcome.NOT_FOUND:
        if payment.booking.event.status == EventStatus.CANCELLED:
            return _compensate(payment, FailureReason.EVENT_CANCELLED, result)
        result = _charge(payment)
    if result.outcome == Outcome.APPROVED:
        return _approve(payment, result)
    if result.outcome == Outcome.DECLINED:
        return _compensate(payment, FailureReason.PAYMENT_DECLINED, result)
    Payment.objects.filter(pk=payment.pk, status=Payment.Status.PENDING).update(
        status=Payment.Status.UNKNOWN
    )
    raise PaymentPending(f"the bank's answer for booking {booking_id} is unknown")


def expire_unpaid(*, booking_id) -> str:
    """The payment deadline passed: look the charge up, then confirm or compensate."""
    payment = _payment_of(booking_id)
    if payment is None or payment.booking.status != BookingStatus.PENDING_PAYMENT:
        return "settled"
    result = _lookup(payment)
    if result.outcome == Outcome.APPROVED:
        return _approve(payment, result)
    if result.outcome == Outcome.DECLINED:
        return _compensate(payment, FailureReason.PAYMENT_DECLINED, result)
    # Not found, or the bank is silent: give the seats back now; an unknown charge is
    # reconciled (refunded if it went through) by the sweep once the bank answers.
    return _compensate(payment, FailureReason.PAYMENT_TIMEOUT, result)


def _payment_of(booking_id) -> Payment | None:
    return Payment.objects.select_related("booking__event").filter(booking_id=booking_id).first()


def _charge(payment: Payment) -> ProviderResult:
    if provider_circuit_open():
        # The bank failed repeatedly: the booking stays pending and the task retries later.
        metrics.PAYMENT_STEPS.labels(PaymentAttempt.Step.CHARGE, "circuit_open").inc()
        raise PaymentPending(f"payment provider circuit open; booking {payment.booking_id} waits")
    # Counted (and committed) before the call: from now on the bank may have charged.
    Payment.objects.filter(pk=payment.pk).update(attempts=F("attempts") + 1)
    payment.attempts += 1
    started = time.monotonic()
    result = get_provider().charge(
        payment.amount, payment.currency, payment.token_ref, payment.idempotency_key
    )
    _step(payment, PaymentAttempt.Step.CHARGE, result, started)
    return result


def _lookup(payment: Payment) -> ProviderResult:
    started = time.monotonic()
    result = get_provider().lookup(payment.idempotency_key)
    _step(payment, PaymentAttempt.Step.LOOKUP, result, started)
    return result


def _step(payment, step, result: ProviderResult | None = None, started=None, **fields) -> None:
    """Record a step of the saga (a PaymentAttempt row) and count it by outcome."""
    outcome = fields.get("outcome") or (result.outcome if result else "")
    metrics.PAYMENT_STEPS.labels(step, outcome).inc()
    PaymentAttempt.objects.create(
        payment=payment,
        booking_id=payment.booking_id,
        step=step,
        outcome=outcome,
        detail=(fields.get("detail") or (result.detail if result else ""))[:300],
        provider_reference=result.reference if result else "",
        duration_ms=int((time.monotonic() - started) * 1000) if started else None,
    )


def _approve(payment: Payment, result: ProviderResult) -> str:
    """The bank took the money: confirm the booking, or refund if the booking is gone."""
    with transaction.atomic():
        booking = (
            Booking.objects.select_for_update(of=("self",))
            .select_related("event")
            .get(pk=payment.booking_id)
        )
        payment = Payment.objects.select_for_update().get(pk=payment.pk)
        if payment.status != Payment.Status.REFUNDED:
            payment.status = Payment.Status.APPROVED
            payment.provider_reference = result.reference
            payment.approved_at = payment.approved_at or timezone.now()
            payment.save(
                update_fields=["status", "provider_reference", "approved_at", "updated_at"]
            )
        live = booking.event.status != EventStatus.CANCELLED
        confirm = booking.status == BookingStatus.PENDING_PAYMENT and live
        if confirm:
            do_confirm_paid_booking(booking=booking)
            _step(payment, PaymentAttempt.Step.CONFIRM, outcome="done")
    if confirm:
        log.info(
            "payment charged",
            booking_id=str(booking.pk),
            amount=str(payment.amount),
            currency=payment.currency,
            provider_reference=payment.provider_reference,
        )
        log_booking_status(booking)
        return BookingStatus.CONFIRMED
    if booking.status == BookingStatus.CONFIRMED:
        # A duplicate command settled concurrently with this same charge (one key, one charge):
        # the money belongs to the confirmed booking, never refund it here.
        return BookingStatus.CONFIRMED
    # Charged for a booking that was compensated meanwhile (deadline, cancelled event).
    if booking.status == BookingStatus.PENDING_PAYMENT:
        _compensate(payment, FailureReason.EVENT_CANCELLED, result)
    _refund_quietly(payment)
    return BookingStatus.FAILED


def _wait_until_seats_settled(booking: Booking) -> None:
    """The registration moves the seats to sold (and drops the hold) just after its commit;
    compensating before that would leave the seats sold in Redis. Wait briefly for it."""
    deadline = time.monotonic() + SEATS_SETTLE_SECONDS
    while seat_locks().get_hold(booking.hold_id) is not None:
        if time.monotonic() > deadline:
            raise PaymentPending(f"booking {booking.pk}: the hold is not released yet")
        time.sleep(0.02)


def _compensate(payment: Payment, reason: str, result: ProviderResult | None) -> str:
    """Undo a booking that will not be paid: ONE transaction cancels its tickets, fails it and
    writes BookingFailed; then its seats go back on sale and watchers are told."""
    _wait_until_seats_settled(payment.booking)
    with transaction.atomic():
        booking = Booking.objects.select_for_update().get(pk=payment.booking_id)
        if booking.status != BookingStatus.PENDING_PAYMENT:
            return booking.status
        payment = Payment.objects.select_for_update().get(pk=payment.pk)
        tickets = do_fail_paid_booking(booking=booking, reason=reason)
        if payment.status in (Payment.Status.PENDING, Payment.Status.UNKNOWN):
            payment.status = _unsettled_status(payment, result)
            payment.save(update_fields=["status", "updated_at"])
        _step(payment, PaymentAttempt.Step.COMPENSATE, outcome="done", detail=reason)
    log.info("payment failed", booking_id=str(booking.pk), reason=reason, payment=payment.status)
    log_booking_status(booking)
    give_back_seats(booking=booking, tickets=tickets, announce=True)
    return BookingStatus.FAILED


def _unsettled_status(payment: Payment, result: ProviderResult | None) -> str:
    if result is not None and result.outcome == Outcome.DECLINED:
        return Payment.Status.DECLINED
    if payment.attempts == 0 or (result is not None and result.outcome == Outcome.NOT_FOUND):
        return Payment.Status.VOIDED
    return Payment.Status.UNKNOWN  # may have been charged: the sweep looks it up later


# --- refunds --------------------------------------------------------------------------------


def refund_and_cancel_booking(*, booking_id, by_buyer: bool = True) -> Booking:
    """Cancel a confirmed booking, refunding it first if it was paid.

    A buyer (``by_buyer``) may do so until the event's refund deadline (by default its start),
    and not once a ticket was used at the door: 422 ``refund_deadline_passed`` or
    ``ticket_used``. An organizer cancelling the event refunds regardless. If the bank does not
    answer nothing changes: 503, try again (idempotent).
    """
    if by_buyer:
        check_buyer_may_cancel(booking=Booking.objects.get(pk=booking_id))
    payment = _payment_of(booking_id)
    if payment is None or payment.status not in (Payment.Status.APPROVED, Payment.Status.REFUNDED):
        return cancel_booking(booking_id=booking_id, refuse_used=by_buyer)  # a free booking
    deadline = refund_deadline(payment.booking.event)
    if by_buyer and payment.status == Payment.Status.APPROVED and timezone.now() >= deadline:
        raise BusinessRuleViolation(
            "The refund deadline of this event has passed.",
            details={"refund_deadline": deadline.isoformat()},
            code="refund_deadline_passed",
        )
    if payment.status == Payment.Status.APPROVED and not _refund(payment):
        raise DependencyUnavailable("The payment provider did not confirm the refund; try again.")
    return cancel_booking(booking_id=booking_id, refuse_used=by_buyer)


def _refund(payment: Payment) -> bool:
    """Refund the whole payment (idempotent by key); True once the bank confirmed it."""
    started = time.monotonic()
    result = get_provider().refund(
        payment.provider_reference, payment.amount, f"refund-{payment.idempotency_key}"
    )
    _step(payment, PaymentAttempt.Step.REFUND, result, started)
    if result.outcome != Outcome.APPROVED:
        log.warning("refund of payment %s: %s %s", payment.pk, result.outcome, result.detail)
        return False
    Payment.objects.filter(pk=payment.pk).update(
        status=Payment.Status.REFUNDED,
        refund_reference=result.reference,
        refunded_at=timezone.now(),
        updated_at=timezone.now(),
    )
    return True


def _refund_quietly(payment: Payment) -> None:
    payment.refresh_from_db()
    if payment.status == Payment.Status.APPROVED and not _refund(payment):
        log.warning("payment %s: refund left to the sweep", payment.pk)


# --- the periodic sweep ---------------------------------------------------------------------


def sweep_payments(*, limit: int = 200) -> dict:
    """Settle what the charge tasks could not: overdue bookings and orphaned money."""
    now = timezone.now()
    counts = {"expired": 0, "reconciled": 0, "cancelled": 0, "pending": 0}
    overdue = Payment.objects.filter(
        status__in=[Payment.Status.PENDING, Payment.Status.UNKNOWN],
        deadline_at__lte=now,
        booking__status=BookingStatus.PENDING_PAYMENT,
    ).values_list("booking_id", flat=True)
    for booking_id in list(overdue[:limit]):
        try:
            expire_unpaid(booking_id=booking_id)
            counts["expired"] += 1
        except PaymentPending:
            counts["pending"] += 1
    # Money that may have outlived its booking: charged late, or unknown at compensation.
    orphans = Payment.objects.filter(
        status__in=[Payment.Status.APPROVED, Payment.Status.UNKNOWN],
        booking__status__in=[BookingStatus.FAILED, BookingStatus.CANCELLED, BookingStatus.EXPIRED],
    ).select_related("booking")
    for payment in list(orphans[:limit]):
        if _reconcile_orphan(payment):
            counts["reconciled"] += 1
    # Registrations that failed before the saga began (hold expired, seat taken): never charged.
    Payment.objects.filter(
        status=Payment.Status.PENDING, attempts=0, booking__status=BookingStatus.FAILED
    ).update(status=Payment.Status.VOIDED, updated_at=now)
    # A refund went through but the cancellation after it was cut off.
    for booking_id in list(
        Payment.objects.filter(
            status=Payment.Status.REFUNDED, booking__status=BookingStatus.CONFIRMED
        ).values_list("booking_id", flat=True)[:limit]
    ):
        cancel_booking(booking_id=booking_id)
        counts["cancelled"] += 1
    return counts


def _reconcile_orphan(payment: Payment) -> bool:
    if payment.status == Payment.Status.UNKNOWN:
        result = _lookup(payment)
        if result.outcome == Outcome.UNKNOWN:
            return False
        if result.outcome != Outcome.APPROVED:
            status = (
                Payment.Status.DECLINED
                if result.outcome == Outcome.DECLINED
                else Payment.Status.VOIDED
            )
            Payment.objects.filter(pk=payment.pk, status=Payment.Status.UNKNOWN).update(
                status=status
            )
            return True
        Payment.objects.filter(pk=payment.pk, status=Payment.Status.UNKNOWN).update(
            status=Payment.Status.APPROVED, provider_reference=result.reference
        )
    _refund_quietly(payment)
    return True
