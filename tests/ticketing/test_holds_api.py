"""Holds through the REST API: statuses and the JSON error format."""

import pytest
from rest_framework.test import APIClient

from tests.conftest import create_ga_event, create_seated_event, seat_ids
from ticketing.models import Event
from ticketing.services.event_rules import publish_event_rules

pytestmark = pytest.mark.django_db


def hold(client, event, body):
    return client.post(f"/api/v1/events/{event.pk}/holds/", body, format="json")


def assert_error(response, status, code):
    assert response.status_code == status, response.content
    body = response.json()
    assert body["error"]["code"] == code
    assert body["error"]["message"]
    return body["error"]


def test_hold_returns_id_seats_and_expiry(client_for, seated_event):
    seats = seat_ids(seated_event)[:2]
    response = hold(client_for(), seated_event, {"seats": seats})
    assert response.status_code == 201
    body = response.json()
    assert body["seats"] == seats
    assert body["id"].startswith(f"{seated_event.pk}-")
    assert body["expires_at"]


def test_taken_seats_are_409_naming_them(client_for, seated_event):
    seats = seat_ids(seated_event)
    assert hold(client_for(), seated_event, {"seats": seats[:2]}).status_code == 201
    error = assert_error(
        hold(client_for(), seated_event, {"seats": seats[1:3]}), 409, "seats_unavailable"
    )
    assert error["details"]["seats"] == [seats[1]]


def test_a_retry_for_the_same_seats_gets_the_buyers_hold_back(client_for, organizer):
    # given a buyer whose hold went through but whose answer was lost (a 502, a timeout),
    # on an event that caps a buyer at the seats they asked for
    event = create_seated_event(organizer, max_seats_per_buyer=2)
    seats = seat_ids(event)[:2]
    buyer = client_for()
    first = hold(buyer, event, {"seats": seats}).json()
    # when the buyer sends the same request again (seats in another order)
    again = hold(buyer, event, {"seats": seats[::-1]})
    # then the answer is that hold, not "taken by someone else" or "over your limit"
    assert again.status_code == 201, again.content
    assert again.json()["id"] == first["id"]
    assert again.json()["expires_at"] == first["expires_at"]
    # and a request overlapping it is still refused, as is the same seats for another buyer
    assert_error(hold(buyer, event, {"seats": seat_ids(event)[1:3]}), 422, "buyer_limit_reached")
    assert_error(hold(client_for(), event, {"seats": seats}), 409, "seats_unavailable")


def test_unknown_seat_is_422(client_for, seated_event, organizer):
    other = create_seated_event(organizer)
    error = assert_error(
        hold(client_for(), seated_event, {"seats": [seat_ids(other)[0]]}), 422, "unknown_seats"
    )
    assert error["details"]["seats"] == [seat_ids(other)[0]]


def test_too_many_seats_is_422(client_for, organizer):
    event = create_seated_event(organizer, max_seats_per_order=2)
    assert_error(hold(client_for(), event, {"seats": seat_ids(event)[:3]}), 422, "too_many_seats")


def test_sales_closed_and_cancelled_are_422(client_for, seated_event):
    seated_event.status = Event.Status.CLOSED
    seated_event.save()
    publish_event_rules(seated_event)
    assert_error(
        hold(client_for(), seated_event, {"seats": seat_ids(seated_event)[:1]}), 422, "sales_closed"
    )
    seated_event.status = Event.Status.CANCELLED
    seated_event.save()
    publish_event_rules(seated_event)
    assert_error(
        hold(client_for(), seated_event, {"seats": seat_ids(seated_event)[:1]}),
        422,
        "event_cancelled",
    )


@pytest.mark.parametrize(
    "body",
    [{}, {"seats": []}, {"seats": "A1"}, {"seats": [-1]}, {"seats": [1], "quantity": 2}],
)
def test_bad_bodies_are_400(client_for, seated_event, body):
    assert_error(hold(client_for(), seated_event, body), 400, "validation_error")


def test_malformed_json_is_400(client_for, seated_event):
    response = client_for().post(
        f"/api/v1/events/{seated_event.pk}/holds/", "{not json", content_type="application/json"
    )
    assert_error(response, 400, "malformed_request")


def test_unknown_event_is_404(client_for):
    assert_error(hold(client_for(), Event(pk=999_999), {"seats": [1]}), 404, "event_not_found")


def test_anonymous_is_refused(seated_event):
    response = APIClient().post(
        f"/api/v1/events/{seated_event.pk}/holds/", {"seats": [1]}, format="json"
    )
    assert response.status_code in (401, 403)
    assert response.json()["error"]["code"] in ("not_authenticated", "permission_denied")


def test_release_only_by_owner(client_for, make_user, seated_event):
    owner = make_user()
    created = hold(client_for(owner), seated_event, {"seats": seat_ids(seated_event)[:1]}).json()
    assert_error(client_for().delete(f"/api/v1/holds/{created['id']}/"), 404, "hold_not_found")
    assert client_for(owner).delete(f"/api/v1/holds/{created['id']}/").status_code == 204
    # the seat is free again
    assert (
        hold(client_for(), seated_event, {"seats": seat_ids(seated_event)[:1]}).status_code == 201
    )


def test_general_admission_quantity(client_for, organizer):
    event = create_ga_event(organizer, capacity=5)
    assert hold(client_for(), event, {"quantity": 3}).status_code == 201
    error = assert_error(hold(client_for(), event, {"quantity": 3}), 409, "sold_out")
    assert error["details"]["available"] == 2
    assert_error(hold(client_for(), event, {"seats": [1]}), 422, "quantity_required")


def test_seats_endpoint_reports_status_and_category(client_for, seated_event):
    seats = seat_ids(seated_event)
    hold(client_for(), seated_event, {"seats": seats[:2]})
    body = APIClient().get(f"/api/v1/events/{seated_event.pk}/seats/").json()
    statuses = {s["id"]: s["status"] for s in body["seats"]}
    assert statuses[seats[0]] == statuses[seats[1]] == "held"
    assert statuses[seats[2]] == "available"
    assert body["categories"][0]["price"] == "45.00"


def test_rate_limit_is_429(client_for, seated_event, settings):
    rates = settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {**rates, "holds": "2/min"},
    }
    client = client_for()
    seats = seat_ids(seated_event)
    hold(client, seated_event, {"seats": seats[:1]})
    hold(client, seated_event, {"seats": seats[1:2]})
    refused = hold(client, seated_event, {"seats": seats[2:3]})
    error = assert_error(refused, 429, "rate_limited")
    assert 0 < error["details"]["retry_after_seconds"] <= 60
    assert 0 < int(refused["Retry-After"]) <= 60
    # the refused attempt held nothing
    assert hold(client_for(), seated_event, {"seats": seats[2:3]}).status_code == 201
