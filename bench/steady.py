"""Holds at a constant offered rate, open loop: a Python asyncio generator (bench/client.py).

wrk keeps a fixed number of connections busy (closed loop): when the server slows down it sends
less, and its latency hides the wait. Here request ``i`` is due at ``start + i / rate`` whatever
happened before, and its latency runs from that due time (what wrk2 does; wrk2 is not in Debian).
"""

from __future__ import annotations

import asyncio
import json
import time

from bench.client import Client, CpuMeter, percentile
from bench.client import run as run_async


async def _offer(base_url, event_id, seat_ids, tokens, rate, seconds):
    client = Client(base_url, limit=4096, timeout=30)
    path = f"/api/v1/events/{event_id}/holds/"
    latencies: list[float] = []
    statuses: dict[str, int] = {}

    async def one(i: int, due: float):
        headers = {
            "Authorization": f"Bearer {tokens[i % len(tokens)]}",
            "Content-Type": "application/json",
        }
        body = json.dumps({"seats": [seat_ids[i % len(seat_ids)]]}).encode()
        try:
            status = str((await client.request("POST", path, headers, body))[0])
        except (OSError, TimeoutError) as exc:
            status = type(exc).__name__
        latencies.append((time.monotonic() - due) * 1000)
        statuses[status] = statuses.get(status, 0) + 1

    total = int(rate * seconds)
    start = time.monotonic() + 0.05
    tasks = []
    for i in range(total):
        due = start + i / rate
        delay = due - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(i, due)))
    await asyncio.gather(*tasks)
    elapsed = time.monotonic() - start
    client.close()
    return latencies, statuses, elapsed


def run(base_url, event_id, seat_ids, tokens, rate=1000, seconds=10) -> dict:
    with CpuMeter() as cpu:
        latencies, statuses, elapsed = run_async(
            _offer(base_url, event_id, seat_ids, tokens, rate, seconds)
        )
    return {
        "offered_per_s": rate,
        "answered_per_s": len(latencies) / elapsed,
        "holds_per_s": statuses.get("201", 0) / elapsed,
        "p50_ms": percentile(latencies, 50),
        "p99_ms": percentile(latencies, 99),
        "max_ms": max(latencies, default=float("nan")),
        "status": statuses,
        "load_generator_cpu_share": cpu.share,
    }
