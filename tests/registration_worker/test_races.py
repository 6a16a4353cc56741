"""Flash-sale races through the real HTTP API, broker and worker.

No seat is sold twice and no accepted registration is lost.
"""

import asyncio
import random
import time
import uuid

import httpx
import pytest
import redis
from django.conf import settings
from django.db import connection
from django.db.models import Count

from registration_worker.models import Booking, Ticket
from tests.conftest import (
    browser_headers,
    create_seated_event,
    seat_ids,
    session_cookies,
)

pytestmark = pytest.mark.django_db(transaction=True)

FINAL = {"confirmed", "failed"}


async def _buyer(url, cookies, event_id, seats, results):
    async with httpx.AsyncClient(
        base_url=url, cookies=cookies, headers=browser_headers(), timeout=30
    ) as client:
        held = await client.post(f"/api/v1/events/{event_id}/holds/", json={"seats": seats})
        results["holds"].append(held.status_code)
        if held.status_code != 201:
            return
        response = await client.post(
            "/api/v1/registrations/",
            json={"hold": held.json()["id"]},
            headers={"Idempotency-Key": uuid.uuid4().hex},
        )
        results["registrations"].append((response.status_code, response.json(), cookies, seats))


async def _race(url, event_id, buyers, seats, flush_midway=False):
    results = {"holds": [], "registrations": []}
    rng = random.Random(7)
    tasks = [
        _buyer(url, cookies, event_id, rng.sample(seats, rng.randint(1, 3)), results)
        for cookies in buyers
    ]
    if flush_midway:
        half = len(tasks) // 2
        await asyncio.gather(*tasks[:half])
        redis.Redis.from_url(settings.REDIS_URL).flushdb()
        await asyncio.gather(*tasks[half:])
    else:
        await asyncio.gather(*tasks)
    return results


async def _final_states(url, registrations, timeout=60):
    states = {}
    deadline = time.monotonic() + timeout
    async with httpx.AsyncClient(base_url=url, timeout=10) as client:
        pending = [r for r in registrations if r[0] == 202]
        while pending and time.monotonic() < deadline:
            still = []
            for status, body, cookies, seats in pending:
                state = (await client.get(body["status_url"], cookies=cookies)).json()
                if state["status"] in FINAL:
                    states[body["tracking_id"]] = state
                else:
                    still.append((status, body, cookies, seats))
            pending = still
            await asyncio.sleep(0.2)
    return states, pending


def assert_no_seat_sold_twice(event):
    doubles = (
        Ticket.objects.filter(event=event)
        .exclude(status="cancelled")
        .values("seat_id")
        .annotate(n=Count("id"))
        .filter(n__gt=1)
    )
    assert list(doubles) == []


@pytest.mark.parametrize("flush_midway", [False, True], ids=["steady", "redis-flushed-midway"])
def test_200_buyers_race_for_10_seats_queued(
    api_server, booking_worker, make_user, organizer, flush_midway
):
    # given a queued event with 10 seats and 200 logged-in buyers
    event = create_seated_event(organizer, rows=1, seats_per_row=10, registration_mode="queued")
    seats = seat_ids(event)
    buyers = [session_cookies(make_user()) for _ in range(200)]
    # when they all try to hold overlapping seats and register what they got
    results = asyncio.run(_race(api_server, event.pk, buyers, seats, flush_midway))
    # then no hold request failed for a reason other than a conflict
    assert set(results["holds"]) <= {201, 409}, results["holds"]
    assert results["registrations"], "somebody must win a hold"
    assert {r[0] for r in results["registrations"]} == {202}
    # and every accepted registration reaches a final state
    states, pending = asyncio.run(_final_states(api_server, results["registrations"]))
    assert pending == []
    assert len(states) == len(results["registrations"])
    # and no seat is sold twice
    assert_no_seat_sold_twice(event)
    confirmed = [s for s in states.values() if s["status"] == "confirmed"]
    sold = [t["seat"]["id"] for s in confirmed for t in s["booking"]["tickets"]]
    assert len(sold) == len(set(sold))
    if not flush_midway:
        # without Redis losing data, every winning hold is a confirmed booking
        assert len(confirmed) == len(states)
        won = [seat for r in results["registrations"] for seat in r[3]]
        assert sorted(sold) == sorted(won)
    else:
        for state in states.values():
            if state["status"] == "failed":
                assert state["reason"] in ("seat_taken", "hold_expired")


def test_200_buyers_race_for_10_seats_simple(api_server, make_user, organizer):
    event = create_seated_event(organizer, rows=1, seats_per_row=10)
    seats = seat_ids(event)
    buyers = [session_cookies(make_user()) for _ in range(200)]
    results = asyncio.run(_race(api_server, event.pk, buyers, seats))
    assert set(results["holds"]) <= {201, 409}
    assert {r[0] for r in results["registrations"]} == {201}
    assert_no_seat_sold_twice(event)
    won = sorted(seat for r in results["registrations"] for seat in r[3])
    assert won == sorted(Ticket.objects.filter(event=event).values_list("seat_id", flat=True))


def test_worker_killed_mid_command_yields_exactly_one_booking(
    api_server, booking_worker, make_user, organizer
):
    event = create_seated_event(organizer, registration_mode="queued")
    buyer = make_user()
    cookies = session_cookies(buyer)
    with httpx.Client(base_url=api_server, cookies=cookies, headers=browser_headers()) as client:
        hold_id = client.post(
            f"/api/v1/events/{event.pk}/holds/", json={"seats": seat_ids(event)[:2]}
        ).json()["id"]
        # given the ticket table is locked, so the worker's insert waits mid-transaction
        with connection.cursor() as cursor:
            cursor.execute("BEGIN")
            try:
                cursor.execute("LOCK TABLE registration_worker_ticket IN SHARE MODE")
                response = client.post(
                    "/api/v1/registrations/",
                    json={"hold": hold_id},
                    headers={"Idempotency-Key": "kill-test"},
                )
                assert response.status_code == 202
                # when the worker process running the command is killed while it waits
                _wait_for_worker_blocked_on_lock()
                booking_worker.kill()
            finally:
                cursor.execute("ROLLBACK")
        # and a worker comes back (as the process manager would restart it)
        booking_worker.start()
        # then the command is redelivered and yields exactly one confirmed booking
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            state = client.get(response.json()["status_url"]).json()
            if state["status"] in FINAL:
                break
            time.sleep(0.2)
    assert state["status"] == "confirmed", state
    assert Booking.objects.filter(buyer=buyer).count() == 1
    assert Ticket.objects.filter(booking__buyer=buyer).count() == 2
    assert_no_seat_sold_twice(event)


def _wait_for_worker_blocked_on_lock(timeout=20):
    deadline = time.monotonic() + timeout
    with connection.cursor() as probe:
        while time.monotonic() < deadline:
            # Statistics are a snapshot per transaction and the caller is inside one.
            probe.execute("SELECT pg_stat_clear_snapshot()")
            probe.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                "AND datname = current_database()"
            )
            if probe.fetchone()[0] > 0:
                return
            time.sleep(0.1)
    raise AssertionError("the worker never blocked on the locked ticket table")
