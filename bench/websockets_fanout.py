"""Fan-out: many WebSocket clients watch one event while buyers hold seats.

Prints the delay from sending a hold request to each watching client seeing its delta.
Needs `make run` (nginx on :8000 routes /ws/ to uvicorn).
"""

import argparse
import asyncio
import json
import os
import time

import httpx
import websockets

from bench.flow import percentile


async def _watch(url, origin, arrivals, ready, stop):
    async with websockets.connect(url, origin=origin, max_queue=None, open_timeout=60) as ws:
        await ws.recv()  # the snapshot
        ready.release()
        while not stop.is_set():
            try:
                frame = json.loads(await asyncio.wait_for(ws.recv(), timeout=0.5))
            except TimeoutError:
                continue
            if frame.get("type") == "deltas":
                now = time.monotonic()
                for change in frame["changes"]:
                    for seat in change["seats"]:
                        if change["status"] == "held":
                            arrivals.append((seat, now))


async def run(base_url, event_id, seat_ids, sessions, clients, holds):
    from bench import CSRF

    ws_url = base_url.replace("http", "ws", 1) + f"/ws/events/{event_id}/"
    arrivals: list[tuple[int, float]] = []
    ready = asyncio.Semaphore(0)
    stop = asyncio.Event()
    watchers = []
    for _ in range(clients):  # connect gradually so the handshake burst stays realistic
        watchers.append(asyncio.create_task(_watch(ws_url, base_url, arrivals, ready, stop)))
        await asyncio.sleep(0.002)
    for _ in range(clients):
        await asyncio.wait_for(ready.acquire(), timeout=120)
    sent: dict[int, float] = {}
    async with httpx.AsyncClient(base_url=base_url, headers={"X-CSRFToken": CSRF}) as http:
        for i in range(holds):
            seat = seat_ids[i]
            cookies = {"sessionid": sessions[i % len(sessions)], "csrftoken": CSRF}
            sent[seat] = time.monotonic()
            await http.post(
                f"/api/v1/events/{event_id}/holds/", json={"seats": [seat]}, cookies=cookies
            )
            await asyncio.sleep(0.05)
    # Wait until deliveries stop arriving, so slow delivery is not counted as loss.
    settle_deadline = time.monotonic() + 60
    seen = -1
    while len(arrivals) != seen and time.monotonic() < settle_deadline:
        seen = len(arrivals)
        await asyncio.sleep(2)
    stop.set()
    await asyncio.gather(*watchers, return_exceptions=True)
    delays = [now - sent[seat] for seat, now in arrivals if seat in sent]
    return {
        "ws_clients": clients,
        "holds": holds,
        "deliveries": len(delays),
        "expected_deliveries": clients * holds,
        "delivery_p50_ms": percentile(delays, 50) * 1000,
        "delivery_p99_ms": percentile(delays, 99) * 1000,
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--base-url", default=os.environ.get("BENCH_URL", "http://127.0.0.1:8000"))
    parser.add_argument("--clients", type=int, default=1000)
    parser.add_argument("--holds", type=int, default=20)
    args = parser.parse_args(argv)
    from bench import setup

    event = setup.create_event(500, mode="simple")
    seats = list(event.seat_map.seats.order_by("id").values_list("id", flat=True))
    sessions = setup.buyer_sessions(50)
    figures = asyncio.run(run(args.base_url, event.pk, seats, sessions, args.clients, args.holds))
    for key, value in figures.items():
        print(f"{key}={value:.2f}" if isinstance(value, float) else f"{key}={value}")


if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ticketing.settings")
    import django

    django.setup()
    main()
