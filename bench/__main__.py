"""`make bench`: the flash-sale figures of issue 11 against the processes of `make run`.

Starts only its own bare baseline server; run `make run` in another terminal first. Prints
key=value figures per phase, then a summary in the order of the issue's table, then the
integrity figures of every event the bench touched, and removes its events at the end.

Phases, in this order (``--only`` picks some, comma-separated): saturation, steady, idle, race,
crowd, worker, payments, and extras (WebSocket fan-out and the browser seat map), which runs only
when named. ``--only holds`` is saturation + steady and ``--only flow`` is race + crowd.
"""

import argparse
import json
import logging
import os
import sys
import time
import traceback

import django
import httpx

# Phases that only hold come first: the bookings of the others keep the notifier rendering PDFs
# for a while, which would take CPU from the hold measurements.
PHASES = ("saturation", "steady", "idle", "race", "crowd", "worker", "payments", "extras")
# extras (WebSocket fan-out, browser seat map) take minutes of their own: asked for by name only.
DEFAULT = PHASES[:-1]
GROUPS = {"holds": ("saturation", "steady"), "flow": ("race", "crowd")}
SESSION_CSRF = "b" * 32  # the CSRF cookie and header of the bench's browser sessions


def _section(title):
    print(f"\n== {title}", flush=True)


def _print(figures: dict, prefix: str = ""):
    for key, value in figures.items():
        if isinstance(value, float):
            text = f"{value:.3f}" if "share" in key else f"{value:.2f}"
        elif isinstance(value, dict):
            text = json.dumps(value, sort_keys=True, default=str)
        else:
            text = value
        print(f"{prefix}{key}={text}", flush=True)


_busy_minute = {"bearer": -1}


def _fresh_window(needed_s: float, after_bearer: bool = False) -> None:
    """Wait for a fresh minute when ``needed_s`` would cross into the next one: the per-buyer
    rate limits count in fixed one-minute windows, and one phase should meet one window (with
    ``after_bearer``, not the one the bearer saturation used up either)."""
    left = 60 - time.time() % 60
    if left < needed_s or (after_bearer and int(time.time() // 60) == _busy_minute["bearer"]):
        time.sleep(left + 0.2)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--base-url", default=os.environ.get("BENCH_URL", "http://127.0.0.1:8000"))
    parser.add_argument("--users", type=int, default=1000, help="Keycloak buyers (bearer path)")
    parser.add_argument("--seconds", type=int, default=10, help="duration of each load phase")
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--rate", type=int, default=1000, help="steady phase: holds/s offered")
    parser.add_argument("--crowd-ramp", type=float, default=3.0, help="seconds the crowd arrives")
    parser.add_argument("--crowd-ttl", type=int, default=30, help="hold TTL of the crowd event")
    parser.add_argument("--race-buyers", type=int, default=300)
    parser.add_argument("--idle-requests", type=int, default=200)
    parser.add_argument(
        "--only", default=None, help=f"comma-separated: {', '.join([*PHASES, *GROUPS])}"
    )
    parser.add_argument("--keep-events", action="store_true", help="do not delete bench events")
    args = parser.parse_args(argv)
    phases = DEFAULT
    if args.only:
        picked = [p for name in args.only.split(",") for p in GROUPS.get(name, (name,))]
        unknown = set(picked) - set(PHASES)
        if unknown:
            parser.error(f"unknown phases {sorted(unknown)}; choose from {[*PHASES, *GROUPS]}")
        phases = [p for p in PHASES if p in picked]

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ticketing.settings")
    django.setup()
    logging.getLogger("httpx").setLevel(logging.WARNING)
    from bench import setup

    try:
        httpx.get(f"{args.base_url}/readyz", timeout=5).raise_for_status()
    except httpx.HTTPError as exc:
        sys.exit(f"{args.base_url} is not ready ({exc}); start the platform with `make run` first")

    phase_events: dict[str, list[int]] = {}
    summary: dict[str, dict] = {}
    extra_events: list[int] = []
    try:
        for phase in phases:
            before = len(setup.CREATED)
            try:
                summary[phase] = PHASE_RUNNERS[phase](args, extra_events)
            except Exception:
                # One broken phase (the tree is worked on) should not cost the other figures.
                traceback.print_exc()
                print(f"phase_failed={phase}", flush=True)
            phase_events[phase] = setup.CREATED[before:]
        _section("summary (issue 11 table)")
        _print_summary(summary)
        _section("integrity over every event the bench touched")
        _integrity(phase_events, extra_events)
    finally:
        if not args.keep_events:
            removed = setup.clean_up(extra_events)
            print(f"\nbench_events_removed={removed}")


# --- phases ---------------------------------------------------------------------------------
_tokens_cache: dict = {}


def _tokens(args, min_valid: float) -> list[str]:
    """Access tokens of ``args.users`` Keycloak buyers; their Django users exist once warmed."""
    from bench import keycloak_users

    if "users" not in _tokens_cache:
        started = time.monotonic()
        created = keycloak_users.ensure_users(args.users)
        print(f"keycloak_users={args.users} created_now={created} ", end="")
        print(f"users_s={time.monotonic() - started:.1f}", flush=True)
        _tokens_cache["users"] = True
    started = time.monotonic()
    tokens = keycloak_users.access_tokens(args.users, min_valid=min_valid)
    if tokens != _tokens_cache.get("tokens"):
        _warm(args.base_url, tokens)
        print(f"tokens_ready_s={time.monotonic() - started:.1f}", flush=True)
    _tokens_cache["tokens"] = tokens
    return tokens


def _warm(base_url: str, tokens: list[str]) -> None:
    """One authenticated request per token before any measurement: the first bearer request
    of a user creates its Django user."""
    import asyncio

    from bench.client import Client
    from bench.client import run as run_async

    async def warm():
        client = Client(base_url, limit=32)
        answers = await asyncio.gather(
            *(
                client.request("GET", "/api/v1/me/", {"Authorization": f"Bearer {t}"})
                for t in tokens
            )
        )
        client.close()
        return [status for status, _ in answers]

    statuses = run_async(warm())
    bad = [s for s in statuses if s != 200]
    if bad:
        raise SystemExit(f"{len(bad)} bearer warm-up requests failed (statuses {set(bad)})")


def _settle(max_s: float = 120, notifications_s: float = 5) -> None:
    """Let the previous phase's work finish before the next is measured: the booking and
    payment queues must be empty (at most ``max_s``); the notifier's queue gets at most
    ``notifications_s`` (its PDFs can take minutes to catch up; the backlog left is printed)."""
    from shared.messaging import BOOKINGS_QUEUE, NOTIFICATIONS_QUEUE, PAYMENTS_QUEUE
    from ticketing.celery import app

    started = time.monotonic()
    with app.connection_for_read() as connection:
        channel = connection.default_channel

        def depth(*names):
            return sum(channel.queue_declare(queue=n, passive=True).message_count for n in names)

        while depth(BOOKINGS_QUEUE, PAYMENTS_QUEUE) and time.monotonic() - started < max_s:
            time.sleep(0.5)
        waited = time.monotonic() - started
        while depth(NOTIFICATIONS_QUEUE) and time.monotonic() - started < waited + notifications_s:
            time.sleep(0.5)
        backlog = depth(NOTIFICATIONS_QUEUE)
    print(
        f"waited_for_queues_s={time.monotonic() - started:.1f} notifications_backlog={backlog}",
        flush=True,
    )


def _idle(args, extra):
    from bench import buyers, setup

    _section(f"single request, idle system: {args.idle_requests} sequential holds + registrations")
    tokens = _tokens(args, min_valid=120)[: args.idle_requests]
    event = setup.create_event(args.idle_requests, mode="queued")
    figures = buyers.idle(args.base_url, event.pk, setup.seat_ids(event), tokens)
    _print(figures)
    return figures


def _race(args, extra):
    from bench import buyers, setup

    _settle()
    _section(f"race: {args.race_buyers} bearer buyers at once for the same 20 seats")
    tokens = _tokens(args, min_valid=120)
    tokens = (tokens[args.idle_requests :] + tokens)[: args.race_buyers]
    event = setup.create_event(50, mode="queued")
    figures = buyers.race(args.base_url, event.pk, setup.seat_ids(event), tokens, seats=20)
    _print(figures)
    return figures


def _crowd(args, extra):
    from bench import buyers, setup

    _settle()
    _section(
        f"crowd: {args.users} bearer buyers, one seat each, queued event, arriving over "
        f"{args.crowd_ramp:g} s, hold TTL {args.crowd_ttl} s"
    )
    tokens = _tokens(args, min_valid=120)
    event = setup.create_event(args.users, mode="queued", hold_ttl=args.crowd_ttl)
    figures = buyers.crowd(
        args.base_url, event.pk, setup.seat_ids(event), tokens, ramp_s=args.crowd_ramp
    )
    _print(figures)
    return figures


SATURATION_SEATS = 10_000
SATURATION_TTL_S = 2  # seats are taken in order: 10,000 seats last 5,000 holds/s for 2 s
# Each web process validates a token (signature, user sync: a few ms) the first time it sees
# it, then serves it from its cache: with 1,000 users and two processes that is 2,000 first
# sights, which the warm-up must cover for the figure to be the steady state of a sale.
WARMUP_S = 10


def _saturation_event():
    from bench import setup

    event = setup.create_event(SATURATION_SEATS, mode="simple", hold_ttl=SATURATION_TTL_S)
    return event, setup.seat_ids(event)


def _wrk(url, args, label):
    from bench import holds

    holds.run_wrk(url, args.connections, WARMUP_S)  # JIT of caches, connections, token cache
    time.sleep(SATURATION_TTL_S)  # the warm-up's holds expire: the same free seats for everyone
    figures = holds.run_wrk(url, args.connections, args.seconds)
    _print(figures, prefix=f"{label}_")
    return figures


def _saturation(args, extra):
    from bench import holds, setup
    from bench.bare import BareServer, web_command, web_url

    web = web_url() or args.base_url
    _section(
        f"saturation: wrk, {args.connections} connections, {args.seconds} s each "
        f"(after {WARMUP_S} s of warm-up), 1 seat per hold, straight to the web process at {web}"
    )
    print("server=" + " ".join(web_command(0)[1:]).replace("127.0.0.1:0", "<port>"))
    figures = {}
    tokens = _tokens(args, min_valid=120)
    sessions = setup.buyer_sessions(args.users)

    event, seats = _saturation_event()
    with BareServer() as bare_url:
        holds.write_targets(
            f"/bare/events/{event.pk}/holds/",
            seats,
            [str(i) for i in range(args.users)],
            "X-Bench-Buyer",
            bare=True,
            ttl_ms=SATURATION_TTL_S * 1000,
        )
        figures["bare"] = _wrk(bare_url, args, "bare")

    event, seats = _saturation_event()
    holds.write_targets(
        f"/api/v1/events/{event.pk}/holds/",
        seats,
        [f"sessionid={s}; csrftoken={SESSION_CSRF}" for s in sessions],
        "Cookie",
        csrf=SESSION_CSRF,
    )
    _fresh_window(WARMUP_S + SATURATION_TTL_S + args.seconds + 2)
    figures["session"] = _wrk(web, args, "session")

    event, seats = _saturation_event()
    holds.write_targets(
        f"/api/v1/events/{event.pk}/holds/", seats, [f"Bearer {t}" for t in tokens], "Authorization"
    )
    _fresh_window(WARMUP_S + SATURATION_TTL_S + args.seconds + 2)
    figures["bearer"] = _wrk(web, args, "bearer")
    _busy_minute["bearer"] = int(time.time() // 60)

    bare = figures["bare"]["holds_per_s"] or float("nan")
    figures["hold_vs_bare_bearer"] = figures["bearer"]["holds_per_s"] / bare
    figures["hold_vs_bare_session"] = figures["session"]["holds_per_s"] / bare
    print(f"hold_vs_bare={figures['hold_vs_bare_bearer']:.3f} (bearer, {args.users} users)")
    print(f"hold_vs_bare_session={figures['hold_vs_bare_session']:.3f}")
    return figures


def _steady(args, extra):
    from bench import steady

    _section(
        f"steady: {args.rate} holds/s offered for {args.seconds} s, open loop (Python asyncio "
        f"generator, latency from each request's due time), bearer tokens, via {args.base_url}"
    )
    tokens = _tokens(args, min_valid=60)
    event, seats = _saturation_event()
    steady.run(args.base_url, event.pk, seats, tokens, rate=args.rate, seconds=2)  # warm-up
    time.sleep(SATURATION_TTL_S)
    _fresh_window(args.seconds + 2, after_bearer=True)
    figures = steady.run(args.base_url, event.pk, seats, tokens, args.rate, args.seconds)
    _print(figures)
    return figures


def _worker(args, extra):
    from bench import worker
    from bench.client import CpuMeter

    _settle(notifications_s=30)  # alone: not beside the crowd's PDFs
    _section("registration worker alone: 600 commands published straight to the queue")
    with CpuMeter() as cpu:
        figures = worker.run()
    figures["load_generator_cpu_share"] = cpu.share
    _print(figures)
    return figures


def _payments(args, extra):
    from bench import payments
    from bench.client import CpuMeter

    _settle()
    _section("paid bookings: 200 buyers (sessions), bank simulator answering in 50 ms")
    with CpuMeter() as cpu:
        figures = payments.main(["--base-url", args.base_url, "--latency-ms", "50"])
    figures["load_generator_cpu_share"] = cpu.share
    print(f"load_generator_cpu_share={cpu.share:.3f}")
    return figures


def _extras(args, extra):
    from bench import browser_map, websockets_fanout
    from ticketing.models import Event

    _settle()
    _section("bench.websockets_fanout")
    websockets_fanout.main(["--base-url", args.base_url])
    _section("bench.browser_map")
    browser_map.main(["--base-url", args.base_url])
    extra += list(
        Event.objects.filter(slug__startswith=browser_map.SLUG).values_list("pk", flat=True)
    )
    return {}


PHASE_RUNNERS = {
    "idle": _idle,
    "race": _race,
    "crowd": _crowd,
    "saturation": _saturation,
    "steady": _steady,
    "worker": _worker,
    "payments": _payments,
    "extras": _extras,
}


# --- summary and integrity -------------------------------------------------------------------
def _print_summary(s: dict) -> None:
    rows = []
    if "crowd" in s:
        c = s["crowd"]
        rows.append(
            f"crowd: confirmed_per_s={c['confirmed_per_s']:.1f} hold_p50_ms={c['hold_p50_ms']:.1f} "
            f"hold_p99_ms={c['hold_p99_ms']:.1f} "
            f"hold_to_confirmed_p99_ms={c['hold_to_confirmed_p99_ms']:.0f} "
            f"holds_expired_before_registration={c['holds_expired_before_registration']} "
            f"load_generator_cpu_share={c['load_generator_cpu_share']:.3f}"
        )
    if "race" in s:
        r = s["race"]
        rows.append(
            f"race: hold_p50_ms={r['hold_p50_ms']:.1f} hold_p99_ms={r['hold_p99_ms']:.1f} "
            f"winners={r['winners']}/{r['seats']} "
            f"load_generator_cpu_share={r['load_generator_cpu_share']:.3f}"
        )
    if "saturation" in s:
        f = s["saturation"]
        for label in ("bare", "bearer", "session"):
            x = f[label]
            rows.append(
                f"saturation_{label}: holds_per_s={x['holds_per_s']:.0f} p50_ms={x['p50_ms']:.1f} "
                f"p99_ms={x['p99_ms']:.1f} wrk_cpu_share={x['wrk_cpu_share']:.3f}"
            )
        rows.append(
            f"hold_vs_bare={f['hold_vs_bare_bearer']:.3f} (bearer) "
            f"hold_vs_bare_session={f['hold_vs_bare_session']:.3f}"
        )
    if "steady" in s:
        x = s["steady"]
        rows.append(
            f"steady: offered_per_s={x['offered_per_s']} holds_per_s={x['holds_per_s']:.0f} "
            f"p50_ms={x['p50_ms']:.1f} p99_ms={x['p99_ms']:.1f} "
            f"load_generator_cpu_share={x['load_generator_cpu_share']:.3f}"
        )
    if "worker" in s:
        x = s["worker"]
        rows.append(
            f"worker: bookings_per_s={x['worker_bookings_per_s']:.0f} commands={x['commands']} "
            f"load_generator_cpu_share={x['load_generator_cpu_share']:.3f}"
        )
    if "payments" in s:
        x = s["payments"]
        rows.append(
            f"paid: paid_bookings_per_s={x['paid_bookings_per_s']:.1f} "
            f"hold_to_paid_p50_ms={x['hold_to_paid_p50_ms']:.0f} "
            f"load_generator_cpu_share={x['load_generator_cpu_share']:.3f}"
        )
    if "idle" in s:
        x = s["idle"]
        rows.append(
            f"idle: hold_median_ms={x['hold_median_ms']:.2f} "
            f"registration_median_ms={x['registration_median_ms']:.2f}"
        )
    print("\n".join(rows), flush=True)


def _integrity(phase_events: dict, extra_events: list, settle_s: float = 60) -> None:
    """seats_sold_twice and accepted_never_final per event, after letting pending work settle."""
    from registration_worker.models import Booking
    from registration_worker.selectors import double_sold_seats

    not_final = ("pending", "pending_payment")
    labelled = [(phase, pk) for phase, ids in phase_events.items() for pk in ids]
    labelled += [("extras", pk) for pk in extra_events]
    ids = [pk for _, pk in labelled]
    deadline = time.monotonic() + settle_s
    while Booking.objects.filter(event_id__in=ids, status__in=not_final).exists():
        if time.monotonic() > deadline:
            break
        time.sleep(0.2)
    total_twice = total_open = 0
    for phase, pk in labelled:
        twice = len(double_sold_seats(pk))
        still = Booking.objects.filter(event_id=pk, status__in=not_final).count()
        total_twice += twice
        total_open += still
        print(f"event={pk} phase={phase} seats_sold_twice={twice} accepted_never_final={still}")
    print(f"seats_sold_twice={total_twice}")
    print(f"accepted_never_final={total_open}")


if __name__ == "__main__":
    main()
