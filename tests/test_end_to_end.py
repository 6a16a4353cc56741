"""The whole path with every process real: API (gunicorn), WebSockets (uvicorn), the booking
worker, the notifier, RabbitMQ, Redis, PostgreSQL and the SMTP sink.

Buyer B watches the seat map while buyer A holds, releases, holds again and books through the
queue; A is told on /ws/me/, the ticket arrives by email and opens the door once.
"""

import email
import json
import time
import uuid
from email import policy

import httpx
import pytest
from django.conf import settings
from websockets.sync.client import connect

from tests.conftest import browser_headers, create_seated_event, seat_ids, session_cookies

pytestmark = pytest.mark.django_db(transaction=True)

ORIGIN = "http://localhost:8000"


def ws_url(asgi_server: str, path: str) -> str:
    return asgi_server.replace("http://", "ws://") + path


def next_frame(ws, wanted, timeout=10):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        frame = json.loads(ws.recv(timeout=max(deadline - time.monotonic(), 0.1)))
        if wanted(frame):
            return frame
    raise AssertionError("no such frame")


def seat_change(seats, status):
    def match(frame):
        return frame["type"] == "deltas" and any(
            c["status"] == status and set(seats) <= set(c["seats"]) for c in frame["changes"]
        )

    return match


def sink_messages(reference):
    messages = (
        email.message_from_bytes(path.read_bytes(), policy=policy.default)
        for path in sorted(settings.MAIL_SINK_DIR.glob("*.eml"))
    )
    return [m for m in messages if m["X-Booking-Reference"] == reference]


def emails_for(reference, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not sink_messages(reference):
        time.sleep(0.2)
    time.sleep(1)  # a second copy would have arrived by now, if there were one
    return sink_messages(reference)


def test_flash_sale_path_end_to_end(
    api_server, asgi_server, booking_worker, notifier_worker, make_user, organizer
):
    # A re-holds the seats it released, so no cool-down (tests/ticketing/test_fair_shares_api.py)
    event = create_seated_event(organizer, registration_mode="queued", hold_cooldown_seconds=0)
    seats = seat_ids(event)[:2]
    buyer_a = make_user()
    cookies_a = session_cookies(buyer_a)
    cookie_header = "; ".join(f"{k}={v}" for k, v in cookies_a.items())
    api = httpx.Client(base_url=api_server, cookies=cookies_a, headers=browser_headers())

    with (
        connect(ws_url(asgi_server, f"/ws/events/{event.pk}/"), origin=ORIGIN) as watcher,
        connect(
            ws_url(asgi_server, "/ws/me/"),
            origin=ORIGIN,
            additional_headers={"Cookie": cookie_header},
        ) as mine,
    ):
        snapshot = json.loads(watcher.recv(timeout=10))
        assert snapshot["type"] == "snapshot"
        assert snapshot["seats"] == {"held": [], "sold": []}

        # A holds: B sees the seats held
        hold = api.post(f"/api/v1/events/{event.pk}/holds/", json={"seats": seats}).json()
        next_frame(watcher, seat_change(seats, "held"))
        # A releases: B sees them available again
        assert api.delete(f"/api/v1/holds/{hold['id']}/").status_code == 204
        next_frame(watcher, seat_change(seats, "available"))
        # A holds again and books through the queue: B sees them sold, A hears "confirmed"
        hold = api.post(f"/api/v1/events/{event.pk}/holds/", json={"seats": seats}).json()
        accepted = api.post(
            "/api/v1/registrations/",
            json={"hold": hold["id"]},
            headers={"Idempotency-Key": uuid.uuid4().hex},
        )
        assert accepted.status_code == 202
        next_frame(watcher, seat_change(seats, "sold"), timeout=30)
        update = next_frame(
            mine,
            lambda f: f["type"] == "booking" and f["booking"]["status"] == "confirmed",
            timeout=30,
        )
        assert update["booking"]["tracking_id"] == accepted.json()["tracking_id"]

    booking = api.get(accepted.json()["status_url"]).json()["booking"]
    # exactly one email, with the PDF tickets attached
    messages = emails_for(booking["reference"])
    assert len(messages) == 1
    attachments = list(messages[0].iter_attachments())
    assert [a.get_content_type() for a in attachments] == ["application/pdf"]
    assert attachments[0].get_content().startswith(b"%PDF")
    # the ticket's code opens the door once
    door = httpx.Client(
        base_url=api_server, cookies=session_cookies(organizer), headers=browser_headers()
    )
    code = booking["tickets"][0]["code"]
    assert door.post("/api/v1/checkin/", json={"code": code}).status_code == 200
    assert door.post("/api/v1/checkin/", json={"code": code}).status_code == 409
