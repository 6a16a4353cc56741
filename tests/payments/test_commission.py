"""The platform commission: Decimal, half-up to the minor unit, and sums that add up."""

import random
import uuid
from decimal import Decimal

import pytest

from payments import commission
from payments.models import OrganizerCommission, Payment
from payments.selectors import event_payout, with_payouts
from payments.services import open_payment
from registration_worker.models import Booking
from tests.payments.conftest import create_paid_event, quick_users
from ticketing.models import Event


@pytest.mark.parametrize(
    ("gross", "currency", "percent", "fee", "expected"),
    [
        ("1.00", "EUR", "12.5", "0", "0.13"),  # 0.125: half-up, not to even
        ("3.00", "EUR", "2.5", "0", "0.08"),  # 0.075
        ("10.00", "EUR", "5", "0.50", "1.00"),
        ("0.20", "USD", "5", "0.50", "0.20"),  # never more than the gross
        ("1005", "JPY", "5", "0", "50"),  # 50.25
        ("1010", "JPY", "5", "0", "51"),  # 50.5: half-up to the yen
        ("999", "JPY", "3.5", "30", "65"),  # 34.965 + 30
    ],
)
def test_commission_rounds_half_up_to_the_minor_unit(gross, currency, percent, fee, expected):
    parts = commission.split(Decimal(gross), currency, Decimal(percent), Decimal(fee))
    assert parts.commission == Decimal(expected)
    assert parts.commission + parts.organizer_share == parts.gross


def test_gross_is_commission_plus_payout_over_many_amounts():
    rng = random.Random(2026)
    for _ in range(20_000):
        currency = rng.choice(["EUR", "USD", "JPY"])
        unit = commission.minor_unit(currency)
        gross = Decimal(rng.randint(1, 5_000_000)) * unit
        percent = Decimal(rng.randint(0, 2500)) / 100
        fee = Decimal(rng.randint(0, 300)) * (unit if currency == "JPY" else Decimal("0.01"))
        parts = commission.split(gross, currency, percent, fee)
        assert parts.gross == gross
        assert parts.commission + parts.organizer_share == gross
        assert parts.commission == parts.commission.quantize(unit)
        assert Decimal(0) <= parts.commission <= gross
        exact = gross * percent / 100 + fee
        assert abs(parts.commission - min(exact, gross)) <= unit / 2


def test_minor_units_on_the_wire():
    assert commission.to_minor(Decimal("45.00"), "EUR") == 4500
    assert commission.to_minor(Decimal("1234"), "JPY") == 1234
    assert commission.from_minor(4505, "EUR") == Decimal("45.05")


@pytest.mark.django_db
def test_event_admin_shows_gross_commission_and_payout_that_add_up(organizer, admin_client):
    # given an organizer with their own rate and a paid event with awkward totals
    OrganizerCommission.objects.create(
        user=organizer, percent=Decimal("7.25"), fixed_fee=Decimal("0.35")
    )
    event = create_paid_event(organizer)
    rng = random.Random(7)
    for buyer in quick_users(40):
        booking = Booking.objects.create(
            buyer=buyer,
            event=event,
            source="simple",
            idempotency_key=uuid.uuid4().hex,
            request_fingerprint="x",
            hold_id=uuid.uuid4().hex,
            total=Decimal(rng.randint(100, 99_999)) / 100,
            currency="EUR",
            status="confirmed",
        )
        payment = open_payment(booking=booking, token="tok_test")
        payment.status = rng.choice(["approved", "approved", "approved", "declined", "refunded"])
        payment.save()
    # then the per-event sums add up to the cent
    approved = Payment.objects.filter(booking__event=event, status="approved")
    assert approved.count() > 0
    totals = event_payout(event.pk)
    assert totals["paid_gross"] == sum(p.amount for p in approved)
    assert totals["paid_gross"] == totals["paid_commission"] + totals["paid_payout"]
    annotated = with_payouts(Event.objects.filter(pk=event.pk)).get()
    assert (annotated.paid_gross, annotated.paid_commission, annotated.paid_payout) == (
        totals["paid_gross"],
        totals["paid_commission"],
        totals["paid_payout"],
    )
    # and the organizer's admin shows them, on the list and on the event
    listing = admin_client.get("/admin/ticketing/event/")
    assert listing.status_code == 200
    for value in totals.values():
        assert str(value) in listing.content.decode()
    page = admin_client.get(f"/admin/ticketing/event/{event.pk}/change/")
    assert page.status_code == 200
    assert str(totals["paid_payout"]) in page.content.decode()


@pytest.mark.django_db
def test_default_commission_comes_from_settings(settings, make_user, organizer):
    settings.PAYMENT_COMMISSION_PERCENT = "10"
    settings.PAYMENT_COMMISSION_FIXED_FEE = "0.99"
    event = create_paid_event(organizer)
    booking = Booking.objects.create(
        buyer=make_user(),
        event=event,
        source="simple",
        idempotency_key="k",
        request_fingerprint="x",
        hold_id="h",
        total=Decimal("45.00"),
        currency="EUR",
    )
    payment = open_payment(booking=booking, token="tok_test")
    assert (payment.commission, payment.organizer_share) == (Decimal("5.49"), Decimal("39.51"))
    assert payment.idempotency_key == str(booking.pk)
    assert payment.status == "pending"
