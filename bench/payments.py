"""Paid bookings end to end: hold, register with a payment token, wait until the payment worker
has charged the bank simulator and the booking is confirmed.

Runs against the processes of `make run` (web, worker, payments, bank). The simulator answers
every charge after ``--latency-ms`` (50 ms by default); its previous settings are restored at
the end. Prints key=value figures, among them ``paid_bookings_per_s``.

    python -m bench.payments [--buyers 200] [--mode queued|simple] [--latency-ms 50]

``--backlog`` pauses the payment workers (Celery remote control) while the buyers register, so
every charge queues up, then resumes them: ``backlog_paid_per_s`` is the payment side's own
rate, whatever the HTTP and booking path upstream can deliver.
"""

import argparse
import asyncio
import contextlib
import itertools
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
    started, started_at = time.monotonic(), time.time()
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
    out["hold_at"][url] = started_at


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


async def _run(base_url, bank_url, event_id, seats, sessions, buyers, timeout, between=None):
    limits = httpx.Limits(max_connections=200)
    out = {"errors": [], "accepted": [], "hold_at": {}}
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
        if between is not None:
            out["resumed"] = await asyncio.to_thread(between, len(out["accepted"]))
        finished, pending = await _wait_final(client, out["accepted"], timeout)
    return out, finished, pending


@contextlib.contextmanager
def _payments_paused():
    """Stop the payment workers consuming until ``resume()`` (or the end): the commands queue."""
    from shared.messaging import PAYMENTS_QUEUE
    from ticketing.celery import app

    active = app.control.inspect(timeout=2).active_queues() or {}
    workers = [
        w for w, queues in active.items() if any(q["name"] == PAYMENTS_QUEUE for q in queues)
    ]
    if not workers:
        sys.exit("no payment worker answered Celery's remote control")
    app.control.cancel_consumer(PAYMENTS_QUEUE, destination=workers, reply=True)

    def resume():  # a worker consuming the queue already ignores it
        app.control.add_consumer(PAYMENTS_QUEUE, destination=workers, reply=True)

    try:
        yield resume
    finally:
        resume()


def _resume_when_queued(event, resume, timeout=120):
    """Wait until every accepted registration has its charge queued (or failed), then resume
    the payment workers; returns when (epoch seconds)."""
    from registration_worker.models import Booking, OutboxMessage
    from shared.messaging import TOPIC_CHARGE_BOOKING

    def between(accepted: int) -> float:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            bookings = Booking.objects.filter(event=event)
            keys = [str(pk) for pk in bookings.values_list("pk", flat=True)]
            queued = OutboxMessage.objects.filter(
                topic=TOPIC_CHARGE_BOOKING, payload__booking_id__in=keys, sent_at__isnull=False
            ).count()
            if queued + bookings.filter(status="failed").count() >= accepted:
                break
            time.sleep(0.2)
        resume()
        return time.time()

    return between


def _stages(booking_ids) -> dict:
    """p50 of each step from registration to confirmation, read from the saga's own rows (the
    ChargeBooking outbox row and the PaymentAttempt steps), to show where the time goes."""
    from datetime import timedelta

    from payments.models import PaymentAttempt
    from registration_worker.models import Booking, OutboxMessage
    from shared.messaging import TOPIC_CHARGE_BOOKING

    keys = [str(pk) for pk in booking_ids]
    created = {
        str(pk): at
        for pk, at in Booking.objects.filter(pk__in=keys).values_list("pk", "created_at")
    }
    commands = OutboxMessage.objects.filter(
        topic=TOPIC_CHARGE_BOOKING, payload__booking_id__in=keys
    )
    steps = {}
    for step in PaymentAttempt.objects.filter(booking_id__in=keys).order_by("-id"):
        steps[(str(step.booking_id), step.step)] = step  # the first of each kind wins
    spans = {name: [] for name in ("booked", "relayed", "queued", "charge", "confirmed")}
    charging = []
    for command in commands:
        key = command.payload["booking_id"]
        charge, confirm = steps.get((key, "charge")), steps.get((key, "confirm"))
        if charge is None or confirm is None or command.sent_at is None:
            continue
        started = charge.created_at - timedelta(milliseconds=charge.duration_ms or 0)
        marks = [created[key], command.created_at, command.sent_at, started]
        marks += [charge.created_at, confirm.created_at]
        for name, (a, b) in zip(spans, itertools.pairwise(marks), strict=True):
            spans[name].append((b - a).total_seconds() * 1000)
        charging.append((started, confirm.created_at))
    figures = {f"stage_{name}_p50_ms": percentile(values, 50) for name, values in spans.items()}
    if charging:
        # The payment side's own rate: first charge sent to last booking confirmed.
        window = max(b for _, b in charging) - min(a for a, _ in charging)
        figures["payments_side_per_s"] = len(charging) / max(window.total_seconds(), 1e-9)
    return figures


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
    parser.add_argument(
        "--backlog", action="store_true", help="queue every charge first, then drain them"
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
        with _payments_paused() if args.backlog else contextlib.nullcontext() as resume:
            between = _resume_when_queued(event, resume) if args.backlog else None
            out, finished, pending = asyncio.run(
                _run(
                    *(args.base_url, bank_url, event.pk, seats, sessions, args.buyers),
                    args.timeout,
                    between,
                )
            )
        ledger = httpx.get(f"{bank_url}/ledger", timeout=30).json()
    finally:
        httpx.post(f"{bank_url}/config", json=previous)

    confirmed = [f for f in finished.values() if f[0]["status"] == "confirmed"]
    # Latencies from the booking's confirmed_at: polling 200 status URLs one by one would add
    # up to a whole polling pass to each figure.
    by_tracking = {url.rstrip("/").rsplit("/", 1)[1]: url for url in out["hold_at"]}
    paid_at = {
        by_tracking[str(tracking)]: at.timestamp()
        for tracking, at in Booking.objects.filter(
            tracking_id__in=list(by_tracking), status="confirmed"
        ).values_list("tracking_id", "confirmed_at")
    }
    latencies = [at - out["hold_at"][url] for url, at in paid_at.items()]
    first = min(out["hold_at"].values(), default=0.0)
    span = max(max(paid_at.values(), default=first) - first, 1e-9)
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
        "paid_bookings_per_s": len(paid_at) / span,
        "hold_to_paid_p50_ms": percentile(latencies, 50) * 1000,
        "hold_to_paid_p99_ms": percentile(latencies, 99) * 1000,
        "hold_to_paid_seen_by_client_p50_ms": percentile([f[1] for f in confirmed], 50) * 1000,
        "bank_charges": len(charges),
        "bookings_charged_twice": sum(1 for n in per_key.values() if n > 1),
    }
    if "resumed" in out:
        drain = [at - out["resumed"] for at in paid_at.values()]
        figures["backlog_paid_per_s"] = len(confirmed) / max(max(drain, default=0), 1e-9)
        figures["backlog_resume_to_paid_p50_ms"] = percentile(drain, 50) * 1000
    if not args.free:
        figures.update(_stages(keys))
    for key, value in figures.items():
        print(f"{key}={value:.2f}" if isinstance(value, float) else f"{key}={value}")
    return figures


if __name__ == "__main__":
    main()
