"""End to end: simulated buyers hold, register (queued) and wait for the worker's answer."""

import asyncio
import random
import statistics
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
    out["accepted"].append((started, response.json()["status_url"], cookies))


async def _wait_final(client, accepted, timeout):
    finished = {}
    pending = list(accepted)
    deadline = time.monotonic() + timeout
    while pending and time.monotonic() < deadline:
        still = []
        for started, url, cookies in pending:
            state = (await client.get(url, cookies=cookies)).json()
            if state["status"] in ("confirmed", "failed"):
                finished[url] = (state, time.monotonic() - started, time.monotonic())
            else:
                still.append((started, url, cookies))
        pending = still
        await asyncio.sleep(0.05)
    return finished, pending


async def run_flow(base_url, event_id, seat_ids, sessions, buyers, hot_fraction=0.25, timeout=120):
    rng = random.Random(42)
    hot = seat_ids[: max(int(len(seat_ids) * hot_fraction), 8)]
    out = {"hold_latency": [], "conflicts": 0, "hold_errors": [], "registration_errors": [],
           "accepted": []}  # fmt: skip
    limits = httpx.Limits(max_connections=200)
    async with httpx.AsyncClient(
        base_url=base_url, headers={"X-CSRFToken": CSRF}, timeout=60, limits=limits
    ) as client:
        started = time.monotonic()
        await asyncio.gather(
            *(
                _buyer(client, event_id, hot, sessions[i % len(sessions)], rng, out)
                for i in range(buyers)
            )
        )
        finished, pending = await _wait_final(client, out["accepted"], timeout)
    confirmed = [f for f in finished.values() if f[0]["status"] == "confirmed"]
    first_accept = min((a[0] for a in out["accepted"]), default=started)
    last_final = max((f[2] for f in finished.values()), default=started)
    span = max(last_final - first_accept, 1e-9)
    latencies = [f[1] for f in confirmed]
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
        "failed": len(finished) - len(confirmed),
        "confirmed_per_s": len(confirmed) / span,
        "hold_to_confirmed_p50_ms": percentile(latencies, 50) * 1000,
        "hold_to_confirmed_p99_ms": percentile(latencies, 99) * 1000,
        "accepted_never_final": len(pending),
        "mean_tickets_per_booking": statistics.mean(
            [len(f[0]["booking"]["tickets"]) for f in confirmed]
        )
        if confirmed
        else 0,
    }
