"""Buyers with bearer tokens through the REST API: the crowd, the race and the idle figures.

Each buyer holds and registers (queued event) with its own Keycloak access token; the outcome is
read from PostgreSQL afterwards (polling the API would compete with the buyers for the server).
Latencies are measured from when a buyer was due to arrive, not from when the client got round
to sending, so a slow server cannot hide its queue in the client (coordinated omission).
"""

from __future__ import annotations

import asyncio
import json
import statistics
import time
import uuid

from bench.client import Client, CpuMeter, percentile
from bench.client import run as run_async

HOLD_GONE = ("hold_not_found", "hold_expired")


def _headers(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}


def _error_code(body: bytes) -> str:
    try:
        return json.loads(body)["error"]["code"]
    except (ValueError, KeyError, TypeError):
        return ""


class _Outcome:
    def __init__(self):
        self.hold_ms: list[float] = []
        self.register_ms: list[float] = []
        self.hold_status: dict[int, int] = {}
        self.register_status: dict[int, int] = {}
        self.hold_gone = 0
        self.accepted: list[tuple[str, float]] = []  # tracking id, wall time the buyer arrived

    def count(self, table, status):
        table[status] = table.get(status, 0) + 1


async def _buyer(client, event_id, seats, token, due, out: _Outcome, register=True):
    await asyncio.sleep(max(0.0, due - time.monotonic()))
    arrived_wall = time.time() - max(0.0, time.monotonic() - due)
    headers = _headers(token)
    status, body = await client.request(
        "POST", f"/api/v1/events/{event_id}/holds/", headers, json.dumps({"seats": seats}).encode()
    )
    out.hold_ms.append((time.monotonic() - due) * 1000)
    out.count(out.hold_status, status)
    if status != 201 or not register:
        return
    sent = time.monotonic()
    status, body = await client.request(
        "POST",
        "/api/v1/registrations/",
        {**headers, "Idempotency-Key": uuid.uuid4().hex},
        json.dumps({"hold": json.loads(body)["id"]}).encode(),
    )
    out.register_ms.append((time.monotonic() - sent) * 1000)
    out.count(out.register_status, status)
    if status == 202:
        out.accepted.append((json.loads(body)["tracking_id"], arrived_wall))
    elif _error_code(body) in HOLD_GONE:
        out.hold_gone += 1


async def _run_buyers(base_url, event_id, seat_lists, tokens, ramp_s):
    out = _Outcome()
    client = Client(base_url, limit=len(seat_lists))
    start = time.monotonic() + 0.05
    step = ramp_s / max(len(seat_lists), 1)
    await asyncio.gather(
        *(
            _buyer(client, event_id, seats, tokens[i % len(tokens)], start + i * step, out)
            for i, seats in enumerate(seat_lists)
        )
    )
    client.close()
    return out


def wait_final(tracking_ids, timeout: float) -> dict[str, dict]:
    """Bookings of these tracking ids once none is pending any more (or at the timeout)."""
    from registration_worker.models import Booking

    deadline = time.monotonic() + timeout
    final = ("confirmed", "failed", "cancelled", "expired")
    while True:
        rows = {
            str(b["tracking_id"]): b
            for b in Booking.objects.filter(tracking_id__in=tracking_ids).values(
                "tracking_id", "status", "failure_reason", "confirmed_at", "updated_at"
            )
        }
        done = sum(1 for b in rows.values() if b["status"] in final)
        if done == len(tracking_ids) or time.monotonic() > deadline:
            return rows
        time.sleep(0.05)


def _booking_figures(out: _Outcome, timeout: float) -> dict:
    arrived = dict(out.accepted)
    bookings = wait_final(list(arrived), timeout)
    confirmed = [b for b in bookings.values() if b["status"] == "confirmed"]
    failed = [b for b in bookings.values() if b["status"] in ("failed", "cancelled", "expired")]
    to_confirmed = [
        (b["confirmed_at"].timestamp() - arrived[str(b["tracking_id"])]) * 1000 for b in confirmed
    ]
    first = min(arrived.values(), default=0.0)
    last = max((b["confirmed_at"].timestamp() for b in confirmed), default=first)
    return {
        "accepted": len(arrived),
        "confirmed": len(confirmed),
        "failed": len(failed),
        "accepted_never_final": len(arrived) - len(confirmed) - len(failed),
        "confirmed_per_s": len(confirmed) / max(last - first, 1e-9),
        "hold_to_confirmed_p50_ms": percentile(to_confirmed, 50),
        "hold_to_confirmed_p99_ms": percentile(to_confirmed, 99),
        "holds_expired_before_registration": out.hold_gone
        + sum(1 for b in failed if b["failure_reason"] == "hold_expired"),
    }


def crowd(base_url, event_id, seat_ids, tokens, ramp_s=3.0, timeout=120) -> dict:
    """``len(tokens)`` distinct buyers, one seat each, arriving evenly over ``ramp_s`` seconds."""
    seat_lists = [[seat_ids[i]] for i in range(len(tokens))]
    with CpuMeter() as cpu:
        out = run_async(_run_buyers(base_url, event_id, seat_lists, tokens, ramp_s))
    figures = {
        "buyers": len(tokens),
        "arrival_per_s": len(tokens) / ramp_s if ramp_s else float("inf"),
        "hold_p50_ms": percentile(out.hold_ms, 50),
        "hold_p99_ms": percentile(out.hold_ms, 99),
        "hold_status": out.hold_status,
        "register_p50_ms": percentile(out.register_ms, 50),
        "register_p99_ms": percentile(out.register_ms, 99),
        "register_status": out.register_status,
        "load_generator_cpu_share": cpu.share,
    }
    figures.update(_booking_figures(out, timeout))
    return figures


def race(base_url, event_id, seat_ids, tokens, seats=20, timeout=60) -> dict:
    """Every buyer at once on one of the same ``seats`` seats; the winners register."""
    seat_lists = [[seat_ids[i % seats]] for i in range(len(tokens))]
    with CpuMeter() as cpu:
        out = run_async(_run_buyers(base_url, event_id, seat_lists, tokens, 0.0))
    booked = _booking_figures(out, timeout)
    return {
        "buyers": len(tokens),
        "seats": seats,
        "hold_p50_ms": percentile(out.hold_ms, 50),
        "hold_p99_ms": percentile(out.hold_ms, 99),
        "hold_status": out.hold_status,
        "winners": booked["confirmed"],
        "accepted_never_final": booked["accepted_never_final"],
        "load_generator_cpu_share": cpu.share,
    }


async def _idle(base_url, event_id, seat_ids, tokens, count):
    client = Client(base_url, limit=1)
    hold_ms, register_ms, holds, accepted = [], [], [], []
    # Holds first, then registrations: a registration sets the worker and the notifier going,
    # which would put other work beside the next hold.
    for i in range(count):
        body = json.dumps({"seats": [seat_ids[i]]}).encode()
        started = time.perf_counter()
        status, answer = await client.request(
            "POST", f"/api/v1/events/{event_id}/holds/", _headers(tokens[i % len(tokens)]), body
        )
        hold_ms.append((time.perf_counter() - started) * 1000)
        if status != 201:
            raise SystemExit(f"idle hold answered {status}: {answer[:200]!r}")
        holds.append(json.loads(answer)["id"])
    for i, hold_id in enumerate(holds):
        headers = {**_headers(tokens[i % len(tokens)]), "Idempotency-Key": uuid.uuid4().hex}
        body = json.dumps({"hold": hold_id}).encode()
        started = time.perf_counter()
        status, answer = await client.request("POST", "/api/v1/registrations/", headers, body)
        register_ms.append((time.perf_counter() - started) * 1000)
        if status != 202:
            raise SystemExit(f"idle registration answered {status}: {answer[:200]!r}")
        accepted.append(json.loads(answer)["tracking_id"])
        # Let the worker finish this booking so the next request meets an idle system.
        await asyncio.sleep(0.05)
    client.close()
    return hold_ms, register_ms, accepted


def idle(base_url, event_id, seat_ids, tokens, count=200, timeout=60) -> dict:
    """``count`` sequential hold + queued registration pairs; one request in flight at a time."""
    hold_ms, register_ms, accepted = run_async(_idle(base_url, event_id, seat_ids, tokens, count))
    bookings = wait_final(accepted, timeout)
    pending = sum(1 for b in bookings.values() if b["status"] not in ("confirmed", "failed"))
    return {
        "requests": count,
        "hold_median_ms": statistics.median(hold_ms),
        "hold_p99_ms": percentile(hold_ms, 99),
        "registration_median_ms": statistics.median(register_ms),
        "registration_p99_ms": percentile(register_ms, 99),
        "accepted_never_final": len(accepted) - len(bookings) + pending,
    }
