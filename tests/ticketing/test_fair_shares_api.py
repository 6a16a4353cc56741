"""Fair shares through the REST API: one buyer cannot hoard an event (issue 10).

Written as the attack: before the limit, one account held the whole event and kept it by
releasing and re-holding the same seats.
"""

import asyncio
import uuid

import httpx
import pytest
import redis
from django.conf import settings
from rest_framework.test import APIClient

from tests.conftest import (
    browser_headers,
    create_ga_event,
    create_seated_event,
    seat_ids,
    session_cookies,
)
from tests.ticketing.test_holds_api import assert_error
from ticketing.services import event_rules


def client_of(user):
    client = APIClient()
    client.force_authenticate(user)
    return client


def hold(client, event, body):
    return client.post(f"/api/v1/events/{event.pk}/holds/", body, format="json")


@pytest.mark.django_db
def test_hoarding_loop_is_refused(make_user, organizer):
    # given an event of 40 seats, 10 per order, 20 per buyer (the default)
    event = create_seated_event(organizer, rows=4, seats_per_row=10)
    seats = seat_ids(event)
    hoarder = client_of(make_user())
    first = hold(hoarder, event, {"seats": seats[:10]})
    assert first.status_code == 201
    assert hold(hoarder, event, {"seats": seats[10:20]}).status_code == 201
    # when the hoarder asks for a third order, then the limit refuses it
    error = assert_error(hold(hoarder, event, {"seats": seats[20:30]}), 422, "buyer_limit_reached")
    assert error["details"] == {"limit": 20, "held": 20, "booked": 0}
    # when they release and re-hold the same seats, then the cool-down refuses them
    assert hoarder.delete(f"/api/v1/holds/{first.json()['id']}/").status_code == 204
    error = assert_error(hold(hoarder, event, {"seats": seats[:10]}), 422, "seat_cooldown")
    assert error["details"]["seats"] == seats[:10]
    assert 0 < error["details"]["retry_after"] <= 60
    # and another buyer gets them
    assert hold(client_of(make_user()), event, {"seats": seats[:10]}).status_code == 201


@pytest.mark.django_db
def test_general_admission_hoarding_is_refused(make_user, organizer):
    event = create_ga_event(organizer, capacity=50, max_seats_per_buyer=6)
    hoarder = client_of(make_user())
    first = hold(hoarder, event, {"quantity": 6})
    assert first.status_code == 201
    error = assert_error(hold(hoarder, event, {"quantity": 1}), 422, "buyer_limit_reached")
    assert error["details"] == {"limit": 6, "held": 6, "booked": 0}
    assert hoarder.delete(f"/api/v1/holds/{first.json()['id']}/").status_code == 204
    error = assert_error(hold(hoarder, event, {"quantity": 6}), 422, "seat_cooldown")
    assert 0 < error["details"]["retry_after"] <= 60
    assert hold(client_of(make_user()), event, {"quantity": 6}).status_code == 201


@pytest.mark.django_db(transaction=True)
def test_booked_seats_count_and_survive_a_redis_flush(make_user, organizer):
    # given a buyer bought 3 seats of an event allowing 4 per buyer
    event = create_seated_event(organizer, max_seats_per_buyer=4)
    seats = seat_ids(event)
    buyer = client_of(make_user())
    held = hold(buyer, event, {"seats": seats[:3]}).json()
    booked = buyer.post(
        "/api/v1/registrations/",
        {"hold": held["id"]},
        format="json",
        HTTP_IDEMPOTENCY_KEY=uuid.uuid4().hex,
    )
    assert booked.status_code == 201, booked.content
    # when Redis loses everything (restart, flush)
    redis.Redis.from_url(settings.REDIS_URL).flushdb()
    event_rules._rules_cache.clear()
    # then the count of booked seats is rebuilt from PostgreSQL: 2 more are refused, 1 fits
    error = assert_error(hold(buyer, event, {"seats": seats[3:5]}), 422, "buyer_limit_reached")
    assert error["details"] == {"limit": 4, "held": 0, "booked": 3}
    assert hold(buyer, event, {"seats": seats[3:4]}).status_code == 201


@pytest.mark.django_db(transaction=True)
def test_cancelled_booking_gives_the_quota_back(make_user, organizer):
    event = create_seated_event(organizer, max_seats_per_buyer=2)
    seats = seat_ids(event)
    buyer = client_of(make_user())
    held = hold(buyer, event, {"seats": seats[:2]}).json()
    booking = buyer.post(
        "/api/v1/registrations/",
        {"hold": held["id"]},
        format="json",
        HTTP_IDEMPOTENCY_KEY=uuid.uuid4().hex,
    ).json()
    assert_error(hold(buyer, event, {"seats": seats[2:3]}), 422, "buyer_limit_reached")
    cancelled = buyer.post(f"/api/v1/bookings/{booking['id']}/cancel/")
    assert cancelled.status_code == 200, cancelled.content
    assert hold(buyer, event, {"seats": seats[2:4]}).status_code == 201


async def _fire(url, cookies, event_id, seats):
    async with httpx.AsyncClient(
        base_url=url, cookies=cookies, headers=browser_headers(), timeout=30
    ) as client:
        replies = await asyncio.gather(
            *(client.post(f"/api/v1/events/{event_id}/holds/", json={"seats": [s]}) for s in seats)
        )
    return [(r.status_code, r.json().get("error", {}).get("code")) for r in replies]


@pytest.mark.django_db(transaction=True)
def test_thirty_parallel_holds_of_one_buyer_end_at_the_limit(api_server, make_user, organizer):
    # given a buyer limited to 5 seats firing 30 single-seat holds at once at gunicorn
    event = create_seated_event(organizer, rows=3, seats_per_row=10, max_seats_per_buyer=5)
    replies = asyncio.run(
        _fire(api_server, session_cookies(make_user()), event.pk, seat_ids(event))
    )
    # then exactly 5 are held and every other one is refused by the limit
    assert replies.count((201, None)) == 5
    assert replies.count((422, "buyer_limit_reached")) == 25
