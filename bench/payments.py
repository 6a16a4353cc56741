"""Paid bookings end to end: hold, register with a payment token, wait until the payment worker
has charged the bank simulator and the booking is confirmed.

Runs against the processes of `make run` (web, worker, payments, bank). The simulator answers
every charge after ``--latency-ms`` (50 ms by default); its previous settings are restored at
the end. Prints key=value figures, among them ``paid_bookings_per_s``.

    python -m bench.payments [--buyers 200] [--mode queued|simple] [--latency-ms 50]
"""

import argparse
import asyncio
import os
import sys
import time
import uuid

import httpx

BANK_DEFAULTS = {"decline_rate": 0, "timeout_rate": 0, "duplicate_rate": 0}
CSRF = "p" * 32  # the CSRF cookie and header of the bench's browser sessions


def percentile(values, q):
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, round(q / 100 * (len(values) - 1)))]


async def _send(client, method, url, **kwargs):
    """One request; sent again when a kept-alive connection was closed under it (the servers
    close idle connections). Registrations carry an Idempotency-Key, so a resend is safe."""
    for attempt in range(3):
        try:
            return await client.request(method, url, **kwargs)
        except (httpx.ReadError, httpx.RemoteProtocolError, httpx.ConnectError):
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


async def _buyer(client, event_id, seats, session, token, out):
    cookies = {"Cookie": f"sessionid={session}; csrftoken={CSRF}"}
    started = time.monotonic()
    held = await _send(
        client, "POST", f"/api/v1/events/{event_id}/holds/", json={"seats": seats}, headers=cookies
    )
    if held.status_code != 201:
        out["errors"].append(("hold", held.status_code))
        return
    response = await _send(
        client,
        "POST",
        "/api/v1/registrations/",
        json={"hold": held.json()["id"], "payment_token": token},
        headers={"Idempotency-Key": uuid.uuid4().hex, **cookies},
    )
    if response.status_code == 202:
        url = response.json()["status_url"]
    elif response.status_code == 201:
        url = f"/api/v1/registrations/{response.json()['tracking_id']}/"
    else:
        out["errors"].append(("register", response.status_code))
        return
    out["accepted"].append((started, url, cookies))


async def _wait_final(client, accepted, timeout):
    finished, pending = {}, list(accepted)
    deadline = time.monotonic() + timeout
    while pending and time.monotonic() < deadline:
        still = []
        for started, url, cookies in pending:
            state = (await _send(client, "GET", url, headers=cookies)).json()
            if state["status"] in ("confirmed", "failed"):
                finished[url] = (state, time.monotonic() - started, time.monotonic())
            else:
                still.append((started, url, cookies))
        pending = still
        await asyncio.sleep(0.05)
    return finished, pending


async def _run(base_url, bank_url, event_id, seats, sessions, buyers, timeout):
    limits = httpx.Limits(max_connections=200)
    out = {"errors": [], "accepted": []}
    async with httpx.AsyncClient(base_url=bank_url, timeout=10) as bank:
        tokens = await asyncio.gather(*(bank.post("/tokens", json={}) for _ in range(buyers)))
    tokens = [t.json()["token"] for t in tokens]
    async with httpx.AsyncClient(
        base_url=base_url, headers={"X-CSRFToken": CSRF}, timeout=60, limits=limits
    ) as client:
        await asyncio.gather(
            *(
                _buyer(client, event_id, seats[2 * i : 2 * i + 2], sessions[i], tokens[i], out)
                for i in range(buyers)
            )
        )
        finished, pending = await _wait_final(client, out["accepted"], timeout)
    return out, finished, pending


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--base-url", default=os.environ.get("BENCH_URL", "http://127.0.0.1:8000"))
    parser.add_argument("--bank-url", default=None, help="default: settings.PAYMENT_PROVIDER_URL")
    parser.add_argument("--buyers", type=int, default=200)
    parser.add_argument("--mode", choices=["queued", "simple"], default="queued")
    parser.add_argument("--latency-ms", type=int, default=50)
    parser.add_argument("--timeout", type=int, default=180)
    parser.add_argument(
        "--free", action="store_true", help="the same flow on a free event, for comparison"
    )
    args = parser.parse_args(argv)

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ticketing.settings")
    import django

    django.setup()
    from django.conf import settings

    from bench import setup
    from registration_worker.models import Booking
    from ticketing.services.event_rules import publish_event_rules

    bank_url = args.bank_url or settings.PAYMENT_PROVIDER_URL
    try:
        httpx.get(f"{args.base_url}/readyz", timeout=5).raise_for_status()
        previous = httpx.get(f"{bank_url}/ledger", timeout=5).json()["config"]
    except httpx.HTTPError as exc:
        sys.exit(f"the platform or the bank simulator is not up ({exc}); run `make run` first")

    event = setup.create_event(max(args.buyers * 2, 50), mode=args.mode)
    event.requires_payment = not args.free
    event.save(update_fields=["requires_payment"])
    publish_event_rules(event)
    seats = list(event.seat_map.seats.order_by("id").values_list("id", flat=True))
    sessions = setup.buyer_sessions(args.buyers)
    httpx.post(f"{bank_url}/config", json={**BANK_DEFAULTS, "latency_ms": args.latency_ms})
    try:
        out, finished, pending = asyncio.run(
            _run(args.base_url, bank_url, event.pk, seats, sessions, args.buyers, args.timeout)
        )
        ledger = httpx.get(f"{bank_url}/ledger", timeout=30).json()
    finally:
        httpx.post(f"{bank_url}/config", json=previous)

    confirmed = [f for f in finished.values() if f[0]["status"] == "confirmed"]
    first = min((a[0] for a in out["accepted"]), default=0.0)
    last = max((f[2] for f in finished.values()), default=first)
    span = max(last - first, 1e-9)
    keys = {str(pk) for pk in Booking.objects.filter(event=event).values_list("pk", flat=True)}
    charges = [c for c in ledger["charges"] if c["idempotency_key"] in keys]
    per_key = {}
    for charge in charges:
        per_key[charge["idempotency_key"]] = per_key.get(charge["idempotency_key"], 0) + 1
    figures = {
        "mode": args.mode + (" (free event)" if args.free else ""),
        "bank_latency_ms": args.latency_ms,
        "buyers": args.buyers,
        "accepted": len(out["accepted"]),
        "errors": len(out["errors"]),
        "paid_bookings": len(confirmed),
        "failed": len(finished) - len(confirmed),
        "never_final": len(pending),
        "paid_bookings_per_s": len(confirmed) / span,
        "hold_to_paid_p50_ms": percentile([f[1] for f in confirmed], 50) * 1000,
        "hold_to_paid_p99_ms": percentile([f[1] for f in confirmed], 99) * 1000,
        "bank_charges": len(charges),
        "bookings_charged_twice": sum(1 for n in per_key.values() if n > 1),
    }
    for key, value in figures.items():
        print(f"{key}={value:.2f}" if isinstance(value, float) else f"{key}={value}")
    return figures


if __name__ == "__main__":
    main()
