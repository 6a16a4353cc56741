"""The platform's commission: Decimal arithmetic, rounded half-up to the currency's minor unit.

commission = round_half_up(gross * percent / 100 + fixed_fee), kept between 0 and gross;
organizer share = gross - commission. Both are stored on each Payment, so per-event sums of
gross, commission and payout add up to the cent by construction.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from django.conf import settings

# ISO 4217 minor units of the currencies we sell in; anything else has two decimals.
# (Three-decimal currencies such as BHD do not fit the two-decimal amount columns.)
MINOR_UNITS = {"JPY": 0, "KRW": 0, "ISK": 0, "CLP": 0, "VND": 0}


def minor_unit(currency: str) -> Decimal:
    """The smallest amount of ``currency``: Decimal('0.01') for EUR, Decimal('1') for JPY."""
    return Decimal(1).scaleb(-MINOR_UNITS.get(currency.upper(), 2))


def to_minor(amount: Decimal, currency: str) -> int:
    """An amount as an integer count of minor units (what providers put on the wire)."""
    return int((amount / minor_unit(currency)).to_integral_value(rounding=ROUND_HALF_UP))


def from_minor(units: int, currency: str) -> Decimal:
    return Decimal(units) * minor_unit(currency)


@dataclass(frozen=True)
class Split:
    gross: Decimal
    commission: Decimal
    organizer_share: Decimal


def split(gross: Decimal, currency: str, percent: Decimal, fixed_fee: Decimal) -> Split:
    unit = minor_unit(currency)
    gross = Decimal(gross).quantize(unit, rounding=ROUND_HALF_UP)
    raw = gross * Decimal(percent) / Decimal(100) + Decimal(fixed_fee)
    commission = min(max(raw.quantize(unit, rounding=ROUND_HALF_UP), Decimal(0)), gross)
    return Split(gross, commission, gross - commission)


def rate_of(organizer_id: int) -> tuple[Decimal, Decimal]:
    """(percent, fixed fee) for an organizer: their own agreement or the platform default."""
    from payments.models import OrganizerCommission

    own = OrganizerCommission.objects.filter(user_id=organizer_id).first()
    if own is not None:
        return own.percent, own.fixed_fee
    return (
        Decimal(settings.PAYMENT_COMMISSION_PERCENT),
        Decimal(settings.PAYMENT_COMMISSION_FIXED_FEE),
    )
