"""WebSockets through the full ASGI stack (origin check, auth, routing) on the real Redis layer."""

import contextlib

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from channels.testing import WebsocketCommunicator
from django.contrib.auth import get_user_model
from django.test import Client
from rest_framework import exceptions

from notifications.consumers import CLOSE_NOT_FOUND, CLOSE_UNAUTHENTICATED
from shared.realtime import current_sequence, publish_booking_update, publish_seat_changes
from ticketing.asgi import application
from ticketing.models import Event

ORIGIN = (b"origin", b"http://localhost:8000")


class FakeBearerAuthentication:
    """Stands in for ticketing.auth.authentication.KeycloakJWTAuthentication: "good-<user id>"."""

    def authenticate(self, request):
        header = request.META.get("HTTP_AUTHORIZATION", "")
        scheme, _, token = header.partition(" ")
        if scheme != "Bearer" or not token.startswith("good-"):
            raise exceptions.AuthenticationFailed("bad token")
        return get_user_model().objects.get(pk=int(token.removeprefix("good-"))), token


def run(scenario):
    """Run an async scenario from a sync test. Sync code it awaits through ``sync_to_async``
    (the consumers' ORM calls included) runs on this thread, inside the test's transaction."""
    return async_to_sync(scenario)()


@contextlib.asynccontextmanager
async def websocket(path, headers=(ORIGIN,)):
    communicator = WebsocketCommunicator(application, path, headers=list(headers))
    try:
        yield communicator
    finally:
        await communicator.disconnect()


async def expect_refused_with(communicator, code):
    connected, _ = await communicator.connect()
    assert connected, "refusals accept first so the browser sees the close code"
    assert await communicator.receive_output(timeout=2) == {"type": "websocket.close", "code": code}


def session_cookie(user) -> tuple[bytes, bytes]:
    client = Client()
    client.force_login(user)
    return (b"cookie", f"sessionid={client.cookies['sessionid'].value}".encode())


@pytest.fixture
def event(make_user, make_event):
    return make_event(make_user(), rows=1, seats_per_row=6)


@pytest.fixture
def seat_ids(event):
    return list(event.seat_map.seats.order_by("id").values_list("id", flat=True))


def test_snapshot_then_a_delta_published_by_someone_else(make_user, make_booking, event, seat_ids):
    sold = event.seat_map.seats.get(pk=seat_ids[0])
    make_booking(make_user(), event, seats=[sold])
    start = current_sequence(event.id)

    async def scenario():
        async with websocket(f"/ws/events/{event.id}/") as client_b:
            connected, _ = await client_b.connect()
            assert connected
            snapshot = await client_b.receive_json_from(timeout=2)
            assert snapshot == {
                "type": "snapshot",
                "seq": start,
                "seats": {"held": [], "sold": [sold.pk]},
            }

            # Client A's hold, as the API pushes it after taking the Redis locks.
            await sync_to_async(publish_seat_changes)(event.id, seat_ids[1:3], "held")

            assert await client_b.receive_json_from(timeout=2) == {
                "type": "deltas",
                "changes": [{"seq": start + 1, "seats": seat_ids[1:3], "status": "held"}],
            }

    run(scenario)


def test_deltas_are_coalesced_into_batches_in_sequence_order(event, seat_ids):
    start = current_sequence(event.id)

    async def scenario():
        async with websocket(f"/ws/events/{event.id}/") as client:
            await client.connect()
            await client.receive_json_from(timeout=2)
            for seat, status in zip(
                seat_ids, ["held", "available", "held", "sold", "held"], strict=False
            ):
                await sync_to_async(publish_seat_changes)(event.id, [seat], status)

            batches = []
            while sum(len(b["changes"]) for b in batches) < 5:
                batches.append(await client.receive_json_from(timeout=2))
            assert await client.receive_nothing(timeout=0.3)

        assert all(batch["type"] == "deltas" for batch in batches)
        assert len(batches) < 5, "deltas of one window (WS_BATCH_MS) travel together"
        changes = [change for batch in batches for change in batch["changes"]]
        assert [c["seq"] for c in changes] == list(range(start + 1, start + 6))
        assert [c["status"] for c in changes] == ["held", "available", "held", "sold", "held"]

    run(scenario)


def test_resync_answers_with_a_fresh_snapshot(event, seat_ids):
    async def scenario():
        async with websocket(f"/ws/events/{event.id}/") as client:
            await client.connect()
            first = await client.receive_json_from(timeout=2)
            await sync_to_async(publish_seat_changes)(event.id, seat_ids[:1], "held")
            await client.receive_json_from(timeout=2)  # the delta

            await client.send_json_to({"type": "resync"})

            fresh = await client.receive_json_from(timeout=2)
            assert fresh["type"] == "snapshot"
            assert fresh["seq"] == first["seq"] + 1

    run(scenario)


def test_a_draft_event_cannot_be_watched_anonymously(event):
    Event.objects.filter(pk=event.pk).update(status=Event.Status.DRAFT)

    async def scenario():
        async with websocket(f"/ws/events/{event.id}/") as client:
            await expect_refused_with(client, CLOSE_NOT_FOUND)

    run(scenario)


def test_connections_without_an_allowed_origin_are_refused(event):
    async def scenario():
        async with websocket(f"/ws/events/{event.id}/", headers=()) as client:
            connected, _ = await client.connect()
            assert not connected

    run(scenario)


def test_my_bookings_refuses_anonymous_users():
    async def scenario():
        async with websocket("/ws/me/") as client:
            await expect_refused_with(client, CLOSE_UNAUTHENTICATED)

    run(scenario)


def test_my_bookings_receives_the_buyers_updates_over_a_session(make_user):
    buyer, other = make_user(), make_user()
    cookie = session_cookie(buyer)
    update = {"id": "b1", "buyer_id": buyer.pk, "status": "confirmed", "reference": "ABCD2345"}

    async def scenario():
        async with websocket("/ws/me/", headers=(ORIGIN, cookie)) as client:
            connected, _ = await client.connect()
            assert connected
            await sync_to_async(publish_booking_update)(other.pk, {"id": "x", "status": "failed"})
            await sync_to_async(publish_booking_update)(buyer.pk, update)

            assert await client.receive_json_from(timeout=2) == {
                "type": "booking",
                "booking": update,
            }
            assert await client.receive_nothing(timeout=0.2)

    run(scenario)


def test_my_bookings_accepts_a_bearer_token_in_the_query_string(make_user, settings):
    settings.WS_TOKEN_AUTHENTICATION_CLASS = f"{__name__}.FakeBearerAuthentication"
    buyer = make_user()
    update = {"id": "b2", "buyer_id": buyer.pk, "status": "failed", "reason": "seat_taken"}

    async def scenario():
        async with websocket(f"/ws/me/?token=good-{buyer.pk}") as client:
            connected, _ = await client.connect()
            assert connected
            await sync_to_async(publish_booking_update)(buyer.pk, update)
            assert (await client.receive_json_from(timeout=2))["booking"] == update
        async with websocket("/ws/me/?token=forged") as client:
            await expect_refused_with(client, CLOSE_UNAUTHENTICATED)

    run(scenario)


def test_a_token_is_anonymous_while_no_token_authentication_is_installed(settings):
    settings.WS_TOKEN_AUTHENTICATION_CLASS = "ticketing.no_such_module.Authentication"

    async def scenario():
        async with websocket("/ws/me/?token=anything") as client:
            await expect_refused_with(client, CLOSE_UNAUTHENTICATED)

    run(scenario)


def test_an_invalid_keycloak_token_is_anonymous():
    # The default: ticketing.auth.authentication.KeycloakJWTAuthentication validates the token.
    async def scenario():
        async with websocket("/ws/me/?token=not.a.jwt") as client:
            await expect_refused_with(client, CLOSE_UNAUTHENTICATED)

    run(scenario)
