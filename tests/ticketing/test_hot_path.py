"""The hold endpoint's shortcuts give exactly what the serializers would."""

import json
import time
from datetime import UTC, datetime

import pytest
from django.test import Client

from tests.conftest import seat_ids
from ticketing.api.serializers import (
    MAX_SEATS_IN_REQUEST,
    HoldRequestSerializer,
    HoldSerializer,
)
from ticketing.auth.authentication import token_users
from ticketing.services.holds import CreatedHold, create_hold

BODIES = [
    {"seats": [1]},
    {"seats": [3, 2, 1]},
    {"seats": list(range(1, MAX_SEATS_IN_REQUEST + 1))},
    {"seats": list(range(1, MAX_SEATS_IN_REQUEST + 2))},
    {"seats": []},
    {"seats": [0]},
    {"seats": [-4]},
    {"seats": ["7"]},
    {"seats": [7.0]},
    {"seats": [True]},
    {"seats": [[1]]},
    {"seats": None},
    {"seats": "1,2"},
    {"quantity": 2},
    {"quantity": 0},
    {"quantity": MAX_SEATS_IN_REQUEST + 1},
    {"quantity": "2"},
    {"quantity": False},
    {"seats": [1], "quantity": 1},
    {"best_available": {"quantity": 2}},
    {},
    [],
    "seats",
    None,
]


@pytest.mark.parametrize("body", BODIES, ids=repr)
def test_the_everyday_parse_accepts_only_what_the_serializer_accepts(body):
    fast = HoldRequestSerializer.parse_everyday(body)
    if fast is None:
        return  # the view falls back to the serializer for this body
    serializer = HoldRequestSerializer(data=body)
    assert serializer.is_valid(), serializer.errors
    assert fast == dict(serializer.validated_data)


def test_the_everyday_parse_takes_the_common_bodies():
    assert HoldRequestSerializer.parse_everyday({"seats": [5, 6]}) == {"seats": [5, 6]}
    assert HoldRequestSerializer.parse_everyday({"quantity": 3}) == {"quantity": 3}


@pytest.mark.parametrize("seats", [[11, 12], []])
def test_the_hold_answer_is_the_serializers(seats):
    hold = CreatedHold(
        id="42-abc",
        event_id=42,
        seats=seats,
        quantity=len(seats) or 3,
        expires_at=datetime(2026, 11, 28, 6, 30, 1, 250000, tzinfo=UTC),
    )
    assert HoldSerializer.represent(hold) == HoldSerializer(hold).data


# --- the everyday hold answered before DRF gives what DRF gives -----------------------------


@pytest.fixture
def two_paths(make_user, seated_event):
    """The same buyer through the shortcut (a bearer token this process already validated)
    and through DRF (a session)."""
    buyer = make_user()
    token = f"validated-{buyer.pk}"
    token_users.put(token, buyer, {"exp": time.time() + 300})
    bearer = Client(HTTP_AUTHORIZATION=f"Bearer {token}")
    session = Client()
    session.force_login(buyer)
    return bearer, session


def _hold(client, event, body):
    return client.post(
        f"/api/v1/events/{event.pk}/holds/", json.dumps(body), content_type="application/json"
    )


def _comparable(response):
    body = response.json()
    body.pop("id", None)
    body.pop("expires_at", None)
    return response.status_code, body, response.get("Retry-After")


@pytest.mark.django_db
def test_the_shortcut_answers_as_drf_does(two_paths, seated_event, make_user):
    bearer, session = two_paths
    seats = seat_ids(seated_event)
    create_hold(
        user_id=make_user().pk, event_id=seated_event.pk, seat_ids=[seats[5]]
    )  # someone else's
    refusals = {
        "seats_unavailable": {"seats": [seats[5]]},  # 409
        "unknown_seats": {"seats": [999_999]},
        "too_many_seats": {"seats": list(range(1, 12))},  # the event sells 10 per order
        "seats_required": {"quantity": 2},
    }
    for code, body in refusals.items():
        fast, slow = _hold(bearer, seated_event, body), _hold(session, seated_event, body)
        assert fast.json()["error"]["code"] == code
        assert _comparable(fast) == _comparable(slow), body

    fast = _hold(bearer, seated_event, {"seats": [seats[0]]})
    slow = _hold(session, seated_event, {"seats": [seats[1]]})
    assert fast.status_code == slow.status_code == 201
    assert fast.json().keys() == slow.json().keys()
    assert fast.json()["seats"] == [seats[0]] and slow.json()["seats"] == [seats[1]]


@pytest.mark.django_db
def test_sales_closed_and_rate_limits_answer_the_same(two_paths, seated_event, settings):
    bearer, session = two_paths
    rates = settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {**rates, "holds": "1/min"},
    }
    seats = seat_ids(seated_event)
    assert _hold(bearer, seated_event, {"seats": [seats[0]]}).status_code == 201
    fast = _hold(bearer, seated_event, {"seats": [seats[1]]})
    slow = _hold(session, seated_event, {"seats": [seats[1]]})
    assert fast.status_code == slow.status_code == 429
    assert fast.json()["error"]["code"] == slow.json()["error"]["code"] == "rate_limited"
    assert int(fast["Retry-After"]) > 0 and int(slow["Retry-After"]) > 0


@pytest.mark.django_db
def test_unusual_requests_take_the_full_path(two_paths, seated_event):
    bearer, _ = two_paths
    # a body the shortcut does not read is validated by the serializer, as before
    response = _hold(bearer, seated_event, {"seats": ["x"]})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "validation_error"
    # a token this process has not validated goes through the authentication classes
    stranger = Client(HTTP_AUTHORIZATION="Bearer not-a-token")
    refused = _hold(stranger, seated_event, {"seats": seat_ids(seated_event)[:1]})
    assert refused.status_code == 401
