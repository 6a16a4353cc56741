"""End to end: simulated buyers hold, register (queued) and wait for the worker's answer."""

import asyncio
import random
import time
import uuid

import httpx

from bench import CSRF


def percentile(values, q):
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, round(q / 100 * (len(values) - 1)))]


async def _buyer(client, event_id, hot_seats, session, rng, out):
    cookies = {"sessionid": session, "csrftoken": CSRF}
    seats = rng.sample(hot_seats, rng.randint(1, 4))
    started = time.monotonic()
    started_wall = time.time()
    held = await client.post(
        f"/api/v1/events/{event_id}/holds/", json={"seats": seats}, cookies=cookies
    )
    out["hold_latency"].append(time.monotonic() - started)
    if held.status_code == 409:
        out["conflicts"] += 1
        return
    if held.status_code != 201:
        out["hold_errors"].append(held.status_code)
        return
    response = await client.post(
        "/api/v1/registrations/",
        json={"hold": held.json()["id"]},
        headers={"Idempotency-Key": uuid.uuid4().hex},
        cookies=cookies,
    )
    if response.status_code != 202:
        out["registration_errors"].append(response.status_code)
        return
    out["accepted"].append((response.json()["tracking_id"], started_wall))


def _wait_final(accepted, timeout):
    """Wait in the database (not through the API, which would compete with the buyers)."""
    from registration_worker.models import Booking

    ids = [tracking_id for tracking_id, _ in accepted]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not Booking.objects.filter(tracking_id__in=ids, status="pending").exists():
            break
        time.sleep(0.1)
    return {
        str(b["tracking_id"]): b
        for b in Booking.objects.filter(tracking_id__in=ids).values(
            "tracking_id", "status", "confirmed_at", "updated_at"
        )
    }


async def _crowd(base_url, event_id, hot, sessions, buyers, rng):
    out = {"hold_latency": [], "conflicts": 0, "hold_errors": [], "registration_errors": [],
           "accepted": []}  # fmt: skip
    limits = httpx.Limits(max_connections=200)
    async with httpx.AsyncClient(
        base_url=base_url, headers={"X-CSRFToken": CSRF}, timeout=60, limits=limits
    ) as client:
        await asyncio.gather(
            *(
                _buyer(client, event_id, hot, sessions[i % len(sessions)], rng, out)
                for i in range(buyers)
            )
        )
    return out


def run_flow(base_url, event_id, seat_ids, sessions, buyers, hot_fraction=0.25, timeout=120):
    """Buyers rush the first ``hot_fraction`` of the seats; returns the figures."""
    rng = random.Random(42)
    hot = seat_ids[: max(int(len(seat_ids) * hot_fraction), 8)]
    out = asyncio.run(_crowd(base_url, event_id, hot, sessions, buyers, rng))
    bookings = _wait_final(out["accepted"], timeout)
    started = dict(out["accepted"])
    confirmed = [b for b in bookings.values() if b["status"] == "confirmed"]
    final = [b for b in bookings.values() if b["status"] in ("confirmed", "failed")]
    latencies = [b["confirmed_at"].timestamp() - started[str(b["tracking_id"])] for b in confirmed]
    first_accept = min(started.values(), default=0)
    last_final = max((b["updated_at"].timestamp() for b in final), default=first_accept)
    span = max(last_final - first_accept, 1e-9)
    return {
        "buyers": buyers,
        "hold_requests": len(out["hold_latency"]),
        "hold_p50_ms": percentile(out["hold_latency"], 50) * 1000,
        "hold_p99_ms": percentile(out["hold_latency"], 99) * 1000,
        "conflicts": out["conflicts"],
        "hold_errors": len(out["hold_errors"]),
        "registration_errors": len(out["registration_errors"]),
        "accepted": len(out["accepted"]),
        "confirmed": len(confirmed),
        "failed": len(final) - len(confirmed),
        "confirmed_per_s": len(confirmed) / span,
        "hold_to_confirmed_p50_ms": percentile(latencies, 50) * 1000,
        "hold_to_confirmed_p99_ms": percentile(latencies, 99) * 1000,
        "accepted_never_final": len(out["accepted"]) - len(final),
    }
