"""Buyers for the cluster tests: many distinct users racing through several web processes."""

import logging
import time
import uuid

import httpx
from django.contrib.auth import get_user_model
from django.db.models import Count

from registration_worker.models import Booking, Ticket
from tests.conftest import browser_headers, session_cookies

FINAL = {"confirmed", "failed"}
logging.getLogger("httpx").setLevel(logging.WARNING)  # a line per request otherwise


def make_buyers(n: int) -> list[dict]:
    """``n`` distinct buyers with logged-in sessions (no password hashing: bulk created)."""
    user_model = get_user_model()
    tag = time.monotonic_ns()
    users = user_model.objects.bulk_create(
        user_model(username=f"c{tag}-{i}", email=f"c{tag}-{i}@example.com", password="!")
        for i in range(n)
    )
    return [session_cookies(user) for user in users]


async def buy(client: httpx.AsyncClient, event_id: int, seats: list[int]) -> dict:
    """Hold ``seats`` and register the hold; what each step answered."""
    started = time.monotonic()
    held = await client.post(f"/api/v1/events/{event_id}/holds/", json={"seats": seats})
    out = {"hold": held.status_code, "hold_s": time.monotonic() - started, "seats": seats}
    out["hold_at"] = time.monotonic()
    if held.status_code >= 500:
        out["hold_body"] = (
            held.json()
            if held.headers.get("content-type", "").startswith("application/json")
            else held.text
        )
        out["retry_after"] = held.headers.get("Retry-After")
    if held.status_code != 201:
        return out
    registered = await client.post(
        "/api/v1/registrations/",
        json={"hold": held.json()["id"]},
        headers={"Idempotency-Key": uuid.uuid4().hex},
    )
    out["registration"] = registered.status_code
    if registered.status_code == 202:
        out["tracking"] = registered.json()
    return out


def client_for(base_url: str, cookies: dict) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        base_url=base_url, cookies=cookies, headers=browser_headers(), timeout=30
    )


def wait_for_final_bookings(event_id: int, timeout: float = 45) -> list[Booking]:
    """The event's bookings once none is pending any more (or the timeout passed)."""
    deadline = time.monotonic() + timeout
    while True:
        bookings = list(Booking.objects.filter(event_id=event_id))
        if all(b.status in FINAL for b in bookings) or time.monotonic() > deadline:
            return bookings
        time.sleep(0.2)


def seats_sold_twice(event_id: int) -> int:
    return (
        Ticket.objects.filter(event_id=event_id)
        .exclude(status="cancelled")
        .values("seat_id")
        .annotate(n=Count("id"))
        .filter(n__gt=1)
        .count()
    )


def registrations_lost(accepted: list[dict], bookings: list[Booking]) -> list[str]:
    """Tracking ids answered 202 whose booking is missing or never reached a final state."""
    final = {str(b.tracking_id) for b in bookings if b.status in FINAL}
    tracked = [a["tracking"]["tracking_id"] for a in accepted]
    return [t for t in tracked if t not in final]
