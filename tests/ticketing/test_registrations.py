"""Registration through the API: the simple flow in-request, the queued flow via the real worker."""

import time
import uuid

import pytest
from rest_framework.test import APIClient

from registration_worker.models import Booking, OutboxMessage, Ticket
from shared.messaging import TOPIC_PROCESS_BOOKING
from tests.conftest import create_ga_event, create_seated_event, seat_ids
from tests.ticketing.test_holds_api import assert_error

pytestmark = pytest.mark.django_db(transaction=True)


def client_of(user):
    client = APIClient()
    client.force_authenticate(user)
    return client


def hold(client, event, seats=None, quantity=None):
    body = {"seats": seats} if seats is not None else {"quantity": quantity}
    response = client.post(f"/api/v1/events/{event.pk}/holds/", body, format="json")
    assert response.status_code == 201, response.content
    return response.json()["id"]


def register(client, hold_id, key=None):
    return client.post(
        "/api/v1/registrations/",
        {"hold": hold_id},
        format="json",
        HTTP_IDEMPOTENCY_KEY=key or uuid.uuid4().hex,
    )


def wait_for_final(client, tracking_id, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        body = client.get(f"/api/v1/registrations/{tracking_id}/").json()
        if body["status"] in ("confirmed", "failed"):
            return body
        time.sleep(0.1)
    raise AssertionError(f"registration {tracking_id} still {body['status']}")


def test_simple_registration_books_in_the_request(make_user, seated_event):
    buyer = make_user()
    client = client_of(buyer)
    seats = seat_ids(seated_event)[:2]
    response = register(client, hold(client, seated_event, seats))
    assert response.status_code == 201, response.content
    booking = response.json()
    assert booking["status"] == "confirmed"
    assert booking["total"] == "90.00"
    assert sorted(t["seat"]["id"] for t in booking["tickets"]) == seats
    # the seats are now sold for everyone
    body = APIClient().get(f"/api/v1/events/{seated_event.pk}/seats/").json()
    assert {s["id"]: s["status"] for s in body["seats"]}[seats[0]] == "sold"


def test_queued_registration_is_202_then_confirmed_by_worker(make_user, organizer, booking_worker):
    event = create_seated_event(organizer, registration_mode="queued")
    client = client_of(make_user())
    response = register(client, hold(client, event, seat_ids(event)[:3]))
    assert response.status_code == 202, response.content
    body = response.json()
    assert body["status_url"].endswith(f"/api/v1/registrations/{body['tracking_id']}/")
    final = wait_for_final(client, body["tracking_id"])
    assert final["status"] == "confirmed"
    assert len(final["booking"]["tickets"]) == 3


def test_simple_and_queued_flows_produce_the_same_booking(make_user, organizer, booking_worker):
    shapes = []
    for mode in ("simple", "queued"):
        event = create_seated_event(organizer, registration_mode=mode)
        client = client_of(make_user())
        response = register(client, hold(client, event, seat_ids(event)[:2]))
        if mode == "queued":
            final = wait_for_final(client, response.json()["tracking_id"])
            response = client.get(f"/api/v1/bookings/{final['booking']['id']}/")
        booking = response.json()
        shapes.append(
            (
                booking["status"],
                booking["total"],
                booking["currency"],
                booking["failure_reason"],
                sorted(
                    (t["seat"]["label"], t["category"], t["price"], t["status"])
                    for t in booking["tickets"]
                ),
            )
        )
    assert shapes[0] == shapes[1]


def test_idempotency_key_replays_and_refuses_another_body(make_user, seated_event):
    client = client_of(make_user())
    seats = seat_ids(seated_event)
    first_hold = hold(client, seated_event, seats[:1])
    first = register(client, first_hold, key="key-1")
    again = register(client, first_hold, key="key-1")
    assert first.status_code == again.status_code == 201
    assert first.json()["id"] == again.json()["id"]
    assert Booking.objects.count() == 1
    other_hold = hold(client, seated_event, seats[1:2])
    assert_error(register(client, other_hold, key="key-1"), 422, "idempotency_key_reused")


def test_a_queued_retry_before_the_worker_ran_replays_the_accepted_registration(
    make_user, organizer
):
    # given a queued registration accepted while no booking worker runs (its hold still live)
    event = create_seated_event(organizer, registration_mode="queued")
    client = client_of(make_user())
    hold_id = hold(client, event, seat_ids(event)[:1])
    first = register(client, hold_id, key="key-q")
    # when the buyer sends it again with the same key, and then the same key for another hold
    again = register(client, hold_id, key="key-q")
    other = register(client, hold(client, event, seat_ids(event)[1:2]), key="key-q")
    # then the retry answers the same tracking id and nothing is queued twice
    assert first.status_code == again.status_code == 202
    assert again.json()["tracking_id"] == first.json()["tracking_id"]
    assert Booking.objects.count() == 1
    assert OutboxMessage.objects.filter(topic=TOPIC_PROCESS_BOOKING).count() == 1
    assert_error(other, 422, "idempotency_key_reused")


def test_missing_idempotency_key_is_400(make_user, seated_event):
    client = client_of(make_user())
    response = client.post("/api/v1/registrations/", {"hold": "x"}, format="json")
    assert_error(response, 400, "validation_error")


def test_another_buyers_hold_is_404(make_user, seated_event):
    owner_client = client_of(make_user())
    hold_id = hold(owner_client, seated_event, seat_ids(seated_event)[:1])
    assert_error(register(client_of(make_user()), hold_id), 404, "hold_not_found")
    assert Booking.objects.count() == 0


def test_bookings_are_private(make_user, seated_event):
    client = client_of(make_user())
    booking = register(client, hold(client, seated_event, seat_ids(seated_event)[:1])).json()
    stranger = client_of(make_user())
    assert_error(stranger.get(f"/api/v1/bookings/{booking['id']}/"), 404, "not_found")
    assert stranger.get("/api/v1/bookings/").json() == []
    assert [b["id"] for b in client.get("/api/v1/bookings/").json()] == [booking["id"]]


def test_cancel_puts_seats_back_on_sale(make_user, seated_event):
    client = client_of(make_user())
    seats = seat_ids(seated_event)[:2]
    booking = register(client, hold(client, seated_event, seats)).json()
    response = client.post(f"/api/v1/bookings/{booking['id']}/cancel/")
    assert response.status_code == 200
    assert response.json()["status"] == "cancelled"
    assert {t["status"] for t in response.json()["tickets"]} == {"cancelled"}
    # someone else can buy the same seats now
    other = client_of(make_user())
    assert register(other, hold(other, seated_event, seats)).status_code == 201
    assert Ticket.objects.exclude(status="cancelled").count() == 2


def test_expired_hold_fails_with_reason(make_user, organizer):
    event = create_seated_event(organizer, hold_ttl_seconds=10)
    client = client_of(make_user())
    hold_id = hold(client, event, seat_ids(event)[:1])
    from shared.locks import seat_locks

    # Simulate expiry after the API accepted the hold: the lease is gone when the booking runs.
    seat_locks().redis.delete(*seat_locks().redis.keys(f"tk:{{evt:{event.pk}}}:seat:*"))
    response = register(client, hold_id)
    error = assert_error(response, 422, "hold_expired")
    assert Booking.objects.get(pk=error["details"]["booking"]).failure_reason == "hold_expired"


def test_general_admission_registration(make_user, organizer):
    event = create_ga_event(organizer, capacity=3)
    client = client_of(make_user())
    booking = register(client, hold(client, event, quantity=2)).json()
    assert booking["status"] == "confirmed"
    assert [t["seat"] for t in booking["tickets"]] == [None, None]
    availability = APIClient().get(f"/api/v1/events/{event.pk}/seats/").json()["availability"]
    assert availability == {"capacity": 3, "sold": 2, "held": 0, "available": 1}
