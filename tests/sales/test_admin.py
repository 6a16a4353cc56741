"""The sales side of the admin: the dashboard, the confirmed cancellation, the bookings list."""

import uuid
from decimal import Decimal

import pytest
from django.test import Client

from notifications.emails import build_cancellation
from registration_worker.models import Booking, OutboxMessage
from sales.projector import apply_message
from tests.conftest import create_seated_event, seat_ids
from ticketing.auth.services import organizers_group
from ticketing.models import Event, PriceCategory

pytestmark = pytest.mark.django_db


@pytest.fixture
def people(django_user_model):
    group = organizers_group(sync_permissions=True)

    def user(name, **flags):
        made = django_user_model.objects.create(username=name, email=f"{name}@example.com", **flags)
        return made

    first, second = user("org-a", is_staff=True), user("org-b", is_staff=True)
    first.groups.add(group)
    second.groups.add(group)
    return {"first": first, "second": second, "buyer": user("buyer-a"), "admin": user(
        "root", is_staff=True, is_superuser=True)}  # fmt: skip


def _book(buyer, event, seats) -> str:
    from rest_framework.test import APIClient

    client = APIClient()
    client.force_authenticate(buyer)
    held = client.post(f"/api/v1/events/{event.pk}/holds/", {"seats": seats}, format="json")
    response = client.post(
        "/api/v1/registrations/", {"hold": held.json()["id"]}, format="json",
        HTTP_IDEMPOTENCY_KEY=uuid.uuid4().hex,
    )  # fmt: skip
    assert response.status_code == 201, response.content
    return response.json()["id"]


def _project():
    for message in OutboxMessage.objects.order_by("id"):
        apply_message(message_id=message.pk, topic=message.topic, payload=message.payload)


def _admin(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def sale(people):
    event = create_seated_event(people["first"], title="Concert A")
    vip = PriceCategory.objects.create(event=event, name="VIP", price=Decimal("80.00"))
    vip.sections.set(event.seat_map.sections.all())
    booking_ids = [_book(people["buyer"], event, seat_ids(event)[i : i + 2]) for i in (0, 2)]
    _project()
    return event, booking_ids


def test_the_dashboard_shows_figures_and_server_drawn_charts(people, sale):
    event, _ = sale
    response = _admin(people["first"]).get(f"/admin/ticketing/event/{event.pk}/sales/")
    assert response.status_code == 200
    html = response.content.decode()
    assert 'id="sales-sold">4<' in html
    assert "180.00 EUR" in html  # gross: two bookings of two seats at 45.00
    assert html.count('class="sales-chart"') == 2 and "Tickets sold over time" in html
    assert 'src="/static/sales/dashboard.js"' in html
    assert "<script>" not in html  # nothing inline: the CSP allows our origin's files only
    # the page's script fetches this fragment to refresh the figures
    fragment = _admin(people["first"]).get(f"/admin/ticketing/event/{event.pk}/sales/?fragment=1")
    assert 'id="sales-sold">4<' in fragment.content.decode()
    assert b"<html" not in fragment.content


def test_the_dashboard_is_linked_from_the_event_list_and_form(people, sale):
    event, _ = sale
    client = _admin(people["first"])
    url = f"/admin/ticketing/event/{event.pk}/sales/"
    assert url in client.get("/admin/ticketing/event/").content.decode()
    assert url in client.get(f"/admin/ticketing/event/{event.pk}/change/").content.decode()


def test_another_organizers_dashboard_is_not_found(people, sale):
    event, _ = sale
    response = _admin(people["second"]).get(f"/admin/ticketing/event/{event.pk}/sales/")
    assert response.status_code == 404
    assert (
        _admin(people["admin"]).get(f"/admin/ticketing/event/{event.pk}/sales/").status_code == 200
    )


def test_cancel_events_asks_with_the_bookings_and_refund_total_then_tells_buyers_why(people, sale):
    event, booking_ids = sale
    client = _admin(people["first"])
    asked = client.post(
        "/admin/ticketing/event/", {"action": "cancel_events", "_selected_action": [event.pk]}
    )
    html = asked.content.decode()
    for booking in Booking.objects.filter(pk__in=booking_ids):
        assert booking.reference in html
    assert "refund total 0.00" in html  # a free event: nothing goes back through the bank
    assert "180.00" in html
    assert Event.objects.get(pk=event.pk).status == "on_sale"
    # without a reason it asks again
    again = client.post(
        "/admin/ticketing/event/",
        {"action": "cancel_events", "_selected_action": [event.pk], "post": "yes", "reason": ""},
    )
    assert b"This field is required" in again.content
    assert Event.objects.get(pk=event.pk).status == "on_sale"
    client.post(
        "/admin/ticketing/event/",
        {"action": "cancel_events", "_selected_action": [event.pk], "post": "yes",
         "reason": "The singer lost her voice."},
    )  # fmt: skip
    assert Event.objects.get(pk=event.pk).status == "cancelled"
    booking = Booking.objects.select_related("buyer", "event__venue").get(pk=booking_ids[0])
    assert booking.status == "cancelled"
    mail = build_cancellation(booking)
    assert "The singer lost her voice." in mail.body
    assert "The singer lost her voice." in mail.alternatives[0][0]


def test_another_organizers_events_cannot_be_cancelled_through_the_action(people, sale):
    event, _ = sale
    _admin(people["second"]).post(
        "/admin/ticketing/event/",
        {"action": "cancel_events", "_selected_action": [event.pk], "post": "yes",
         "reason": "mine now"},
    )  # fmt: skip
    assert Event.objects.get(pk=event.pk).status == "on_sale"


def test_the_bookings_list_filters_by_event_and_totals_per_category(people, sale):
    event, _ = sale
    second_own = create_seated_event(people["first"], title="Concert B")
    _book(people["buyer"], second_own, seat_ids(second_own)[:1])
    other = create_seated_event(people["second"], title="Not yours")
    _book(people["buyer"], other, seat_ids(other)[:1])
    client = _admin(people["first"])
    # the filter offers the organizer's own events only
    listing = client.get("/admin/registration_worker/booking/").content.decode()
    assert "By event" in listing and "Concert B" in listing and "Not yours" not in listing
    # filtered to one event: its bookings and their tickets per category
    html = client.get(f"/admin/registration_worker/booking/?event__id__exact={event.pk}")
    html = html.content.decode().replace("\n", "")
    assert 'id="category-totals"' in html
    assert "<td>Concert A</td><td>Category A</td><td>4</td><td>180.00 EUR</td>" in html
    assert "<td>Concert B</td>" not in html


def test_the_organizer_field_offers_only_organizers(people):
    html = _admin(people["admin"]).get("/admin/ticketing/event/add/").content.decode()
    start = html.index('name="organizer"')
    choices = html[start : html.index("</select>", start)]
    assert "org-a" in choices and "org-b" in choices and "root" in choices
    assert "buyer-a" not in choices
