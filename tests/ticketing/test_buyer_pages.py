"""The buyer pages of the purchase journey as HTML: the paid event page (card form origin in
its policy), holds picked up after a reload, and My bookings with the refund policy."""

import json
import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.conf import settings
from django.test import Client
from django.utils import timezone

from payments.models import Payment
from registration_worker.models import Booking
from seatmaps.models import Seat
from tests.conftest import create_ga_event, create_seated_event, seat_ids
from tests.factories import BookingFactory
from ticketing.services.holds import create_hold

pytestmark = pytest.mark.django_db


def logged_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def event_config(response):
    html = response.content.decode()
    found = re.search(r'id="event-config" type="application/json">(.*?)</script>', html)
    return json.loads(found.group(1))


def csp(response) -> dict[str, list[str]]:
    parts = (p.split() for p in response.headers["Content-Security-Policy"].split(";"))
    return {name: values for name, *values in parts}


def booked(buyer, event, seats, status="confirmed", paid=None):
    """A booking of these seats (ids), with a Payment in state ``paid`` when given."""
    booking = BookingFactory(
        buyer=buyer, event=event, status=status, tickets=list(Seat.objects.filter(pk__in=seats))
    )
    if paid:
        Payment.objects.create(
            booking=booking,
            amount=booking.total,
            currency="EUR",
            commission=Decimal("0"),
            organizer_share=booking.total,
            provider="bank_simulator",
            token_ref="tok_test",
            status=paid,
            idempotency_key=str(booking.pk),
            deadline_at=timezone.now() + timedelta(minutes=15),
        )
    return booking


def test_a_paid_event_page_may_frame_only_the_banks_card_form(organizer, make_user):
    # given a paid and a free event
    paid = create_seated_event(organizer, requires_payment=True)
    free = create_seated_event(organizer)
    client = logged_in(make_user())
    # when the buyer opens the paid one
    response = client.get(f"/events/{paid.pk}/")
    config = event_config(response)
    # then the page knows where the card form is and its policy frames that origin only
    assert config["event"]["requiresPayment"] is True
    assert settings.PAYMENT_PROVIDER_PUBLIC_URL.startswith(config["payment"]["origin"])
    assert config["payment"]["url"] == f"{config['payment']['origin']}/elements/card.html"
    assert csp(response)["frame-src"] == [config["payment"]["origin"]]
    assert csp(response)["connect-src"] == ["'self'"]
    assert "Pay by card" in response.content.decode()
    # and the free event's page frames nothing
    free_page = client.get(f"/events/{free.pk}/")
    assert "frame-src" not in csp(free_page)
    assert "payment" not in event_config(free_page)


def test_the_event_page_brings_back_the_buyers_own_holds(organizer, make_user):
    # given a buyer's hold and another buyer's hold on a seated and a GA event
    buyer = make_user()
    event = create_seated_event(organizer)
    ga = create_ga_event(organizer)
    ids = seat_ids(event)
    mine = create_hold(user_id=buyer.pk, event_id=event.pk, seat_ids=ids[:2])
    create_hold(user_id=make_user().pk, event_id=event.pk, seat_ids=ids[2:3])
    create_hold(user_id=buyer.pk, event_id=ga.pk, quantity=2)
    # when the buyer reloads the event page
    config = event_config(logged_in(buyer).get(f"/events/{event.pk}/"))
    # then it carries their hold of this event only, ready to show with its countdown
    assert [(h["id"], h["seats"], h["extended"]) for h in config["myHolds"]] == [
        (mine.id, ids[:2], False)
    ]
    # and a visitor gets none
    assert event_config(Client().get(f"/events/{event.pk}/"))["myHolds"] == []


def test_my_bookings_shows_each_booking_with_what_cancelling_would_refund(organizer, make_user):
    # given a paid booking, a free one, a paid one past its refund deadline and a declined one
    buyer = make_user()
    paid_event = create_seated_event(organizer, requires_payment=True, title="Paid Gala")
    free_event = create_seated_event(organizer, title="Free Talk")
    late_event = create_seated_event(
        organizer,
        requires_payment=True,
        title="Late Show",
        refund_deadline=timezone.now() - timedelta(hours=1),
    )
    paid = booked(buyer, paid_event, seat_ids(paid_event)[:2], paid="approved")
    free = booked(buyer, free_event, seat_ids(free_event)[:1])
    late = booked(buyer, late_event, seat_ids(late_event)[:1], paid="approved")
    used = booked(buyer, free_event, seat_ids(free_event)[2:3])
    used.tickets.update(status="used")
    declined = booked(buyer, paid_event, [], status="failed")
    Booking.objects.filter(pk=declined.pk).update(failure_reason="payment_declined")
    booked(make_user(), free_event, seat_ids(free_event)[1:2])  # somebody else's
    # when the buyer opens My bookings
    response = logged_in(buyer).get("/me/bookings/")
    html = response.content.decode()
    cards = {
        re.match(r' data-booking-id="([0-9a-f-]+)"', card).group(1): card
        for card in html.split('<li class="booking-card"')[1:]
    }
    # then only their bookings are listed, each with its reference, seats and refund policy
    assert set(cards) == {str(b.pk) for b in (paid, free, late, used, declined)}
    assert paid.reference in cards[str(paid.pk)]
    assert "Row A, seat 1" in cards[str(paid.pk)] and "Row A, seat 2" in cards[str(paid.pk)]
    assert "for a refund of 90.00 EUR" in cards[str(paid.pk)]
    assert 'data-refund="90.00 EUR"' in cards[str(paid.pk)]
    assert "nothing is charged or refunded" in cards[str(free.pk)]
    assert 'data-role="cancel"' in cards[str(free.pk)]
    assert "The refund deadline of this event has passed." in cards[str(late.pk)]
    assert 'data-role="cancel"' not in cards[str(late.pk)]
    assert "already used at the door" in cards[str(used.pk)]
    assert 'data-role="cancel"' not in cards[str(used.pk)]
    assert "Failed: the payment was declined" in cards[str(declined.pk)]
    assert f"/api/v1/bookings/{paid.pk}/tickets.pdf" in cards[str(paid.pk)]
    assert "frame-src" not in csp(response)


def test_my_bookings_asks_a_visitor_to_log_in():
    response = Client().get("/me/bookings/")
    assert response.status_code == 302
    assert "next=/me/bookings/" in response["Location"]
