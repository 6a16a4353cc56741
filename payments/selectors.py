"""Reads of the payments side: what each event earned (the organizer's admin), and what a
buyer gets back if they cancel (the buyer's bookings page)."""

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.db.models import DecimalField, OuterRef, QuerySet, Subquery, Sum, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from payments.models import Payment
from shared.enums import BookingStatus, TicketStatus

PAYOUT_FIELDS = {
    "paid_gross": "amount",
    "paid_commission": "commission",
    "paid_payout": "organizer_share",
}


def with_payouts(events: QuerySet) -> QuerySet:
    """Annotate events with the sums of their approved (not refunded) payments.

    Every payment stores commission + organizer share = amount to the cent, so the sums add
    up too: ``paid_gross = paid_commission + paid_payout``.
    """
    approved = Payment.objects.filter(
        booking__event=OuterRef("pk"), status=Payment.Status.APPROVED
    ).order_by()
    money = DecimalField(max_digits=14, decimal_places=2)
    return events.annotate(
        **{
            name: Coalesce(
                Subquery(
                    approved.values("booking__event").annotate(s=Sum(field)).values("s"),
                    output_field=money,
                ),
                Value(Decimal("0")),
                output_field=money,
            )
            for name, field in PAYOUT_FIELDS.items()
        }
    )


def event_payout(event_id: int) -> dict[str, Decimal]:
    """Gross, commission and payout of one event's approved payments."""
    totals = Payment.objects.filter(
        booking__event_id=event_id, status=Payment.Status.APPROVED
    ).aggregate(**{name: Sum(field) for name, field in PAYOUT_FIELDS.items()})
    return {name: value or Decimal("0") for name, value in totals.items()}


def refund_deadline(event) -> datetime:
    """Until when a buyer may cancel a paid booking of ``event`` and get the money back."""
    return event.refund_deadline or event.starts_at


@dataclass(frozen=True)
class RefundPolicy:
    """What cancelling a booking now would do, for the buyer to read before confirming."""

    cancellable: bool
    refund: Decimal  # the amount the card gets back (0 for a free booking)
    currency: str
    deadline: datetime | None  # paid bookings: cancellable with a refund until then
    refused_because: str = ""  # why it cannot be cancelled, in words
    refunded: Decimal | None = None  # a cancelled paid booking: what went back


def refund_policy(*, booking, now: datetime | None = None) -> RefundPolicy:
    """The same rules as ``refund_and_cancel_booking`` (and ``check_buyer_may_cancel``), read
    from a booking whose ``payment``, ``event`` and ``tickets`` are already loaded."""
    now = now or timezone.now()
    payment = getattr(booking, "payment", None)
    paid = payment is not None and payment.status in (
        Payment.Status.APPROVED,
        Payment.Status.REFUNDED,
    )
    refund = payment.amount if paid else Decimal("0")
    deadline = refund_deadline(booking.event) if paid else None
    refunded = payment.amount if paid and payment.status == Payment.Status.REFUNDED else None

    def refused(because: str) -> RefundPolicy:
        return RefundPolicy(False, refund, booking.currency, deadline, because, refunded)

    if booking.status != BookingStatus.CONFIRMED:
        return refused(f"This booking is {booking.get_status_display().lower()}.")
    if any(t.status == TicketStatus.USED for t in booking.tickets.all()):
        return refused("A ticket of this booking was already used at the door.")
    if deadline is not None and now >= deadline:
        return refused("The refund deadline of this event has passed.")
    return RefundPolicy(True, refund, booking.currency, deadline)
