"""Reads of the payments side: what each event earned, for the organizer's admin."""

from decimal import Decimal

from django.db.models import DecimalField, OuterRef, QuerySet, Subquery, Sum, Value
from django.db.models.functions import Coalesce

from payments.models import Payment

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
