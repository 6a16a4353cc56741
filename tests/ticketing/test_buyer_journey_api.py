"""The API behind the buyer's pages: my live holds, one extension, what the event says it costs."""

from datetime import datetime
from decimal import Decimal

import pytest
from rest_framework.test import APIClient

from tests.conftest import create_ga_event, create_seated_event, seat_ids
from ticketing.models import PriceCategory

pytestmark = pytest.mark.django_db


def hold(client, event, body):
    response = client.post(f"/api/v1/events/{event.pk}/holds/", body, format="json")
    assert response.status_code == 201, response.content
    return response.json()


def mine(client, event):
    return client.get(f"/api/v1/events/{event.pk}/holds/mine/")


def error_code(response):
    return response.json()["error"]["code"]


def test_my_holds_lists_only_my_live_holds_without_the_database(
    client_for, make_user, seated_event, django_assert_num_queries
):
    # given two holds of mine and one of another buyer
    me, other = client_for(), client_for()
    seats = seat_ids(seated_event)
    first = hold(me, seated_event, {"seats": seats[:2]})
    second = hold(me, seated_event, {"seats": seats[2:3]})
    hold(other, seated_event, {"seats": seats[5:6]})
    # when I ask for my holds, no database query is made
    with django_assert_num_queries(0):
        response = mine(me, seated_event)
    # then both of mine come back with seats and expiry, and nothing of the other buyer's
    assert response.status_code == 200
    body = response.json()
    assert {h["id"] for h in body} == {first["id"], second["id"]}
    by_id = {h["id"]: h for h in body}
    assert by_id[first["id"]]["seats"] == seats[:2]
    assert by_id[first["id"]]["expires_at"] == first["expires_at"]
    assert by_id[first["id"]]["extended"] is False
    # and a released hold is gone from the list
    assert me.delete(f"/api/v1/holds/{first['id']}/").status_code == 204
    assert [h["id"] for h in mine(me, seated_event).json()] == [second["id"]]


def test_my_holds_of_general_admission_give_the_quantity(client_for, organizer):
    event = create_ga_event(organizer, capacity=10)
    me = client_for()
    created = hold(me, event, {"quantity": 3})
    assert [(h["id"], h["quantity"], h["seats"]) for h in mine(me, event).json()] == [
        (created["id"], 3, [])
    ]


def test_my_holds_needs_a_login_and_an_event(client_for, seated_event):
    assert APIClient().get(f"/api/v1/events/{seated_event.pk}/holds/mine/").status_code in (
        401,
        403,
    )
    response = client_for().get("/api/v1/events/999999/holds/mine/")
    assert response.status_code == 404
    assert error_code(response) == "event_not_found"


def test_a_hold_is_extended_once_by_its_owner_only(client_for, seated_event):
    # given my hold of one seat (hold time 600 s)
    me, other = client_for(), client_for()
    created = hold(me, seated_event, {"seats": seat_ids(seated_event)[:1]})
    url = f"/api/v1/holds/{created['id']}/extend/"
    # when another buyer tries to extend it: not found, as for any hold not theirs
    refused = other.post(url)
    assert refused.status_code == 404 and error_code(refused) == "hold_not_found"
    # when I extend it, it lasts the event's hold time longer
    extended = me.post(url)
    assert extended.status_code == 200, extended.content
    body = extended.json()
    before = datetime.fromisoformat(created["expires_at"])
    after = datetime.fromisoformat(body["expires_at"])
    assert (after - before).total_seconds() == pytest.approx(600, abs=0.01)
    assert body["extended"] is True
    assert mine(me, seated_event).json()[0]["expires_at"] == body["expires_at"]
    # and a second extension is a business-rule error that names the expiry
    again = me.post(url)
    assert again.status_code == 422
    assert error_code(again) == "hold_already_extended"
    assert datetime.fromisoformat(again.json()["error"]["details"]["expires_at"]) == after
    # and a released hold cannot be extended
    me.delete(f"/api/v1/holds/{created['id']}/")
    assert error_code(me.post(url)) == "hold_not_found"


def test_event_says_whether_it_is_paid_its_currency_and_price_range(client_for, organizer):
    # given a paid event with two categories and a free general-admission event
    paid = create_seated_event(organizer, requires_payment=True)
    PriceCategory.objects.create(event=paid, name="Balcony", price=Decimal("12.50"))
    free = create_ga_event(organizer, capacity=5)
    # when the list and the detail are read
    listed = {e["id"]: e for e in APIClient().get("/api/v1/events/").json()["results"]}
    detail = APIClient().get(f"/api/v1/events/{paid.pk}/").json()
    # then both carry the new fields
    for body in (listed[paid.pk], detail):
        assert body["requires_payment"] is True
        assert body["currency"] == "EUR"
        assert (body["min_price"], body["max_price"]) == ("12.50", "45.00")
    assert listed[free.pk]["requires_payment"] is False
    assert (listed[free.pk]["min_price"], listed[free.pk]["max_price"]) == ("30.00", "30.00")
