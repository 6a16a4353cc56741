"""`make bench`: figures for the flash-sale path against the processes of `make run`.

Starts nothing itself: run `make run` in another terminal first. Prints key=value figures.
"""

import argparse
import importlib
import logging
import os
import sys

import django
import httpx


def _section(title):
    print(f"\n== {title}")


def _print(figures: dict):
    for key, value in figures.items():
        print(f"{key}={value:.2f}" if isinstance(value, float) else f"{key}={value}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--base-url", default=os.environ.get("BENCH_URL", "http://127.0.0.1:8000"))
    parser.add_argument("--buyers", type=int, default=200, help="simulated buyers end to end")
    parser.add_argument("--seats", type=int, default=2000)
    parser.add_argument("--seconds", type=int, default=10, help="duration of each wrk phase")
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--only", choices=["holds", "flow", "worker", "extras"], default=None)
    args = parser.parse_args(argv)

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ticketing.settings")
    django.setup()
    logging.getLogger("httpx").setLevel(logging.WARNING)
    from bench import flow, holds, setup
    from registration_worker.selectors import double_sold_seats

    try:
        ready = httpx.get(f"{args.base_url}/readyz", timeout=5)
        ready.raise_for_status()
    except httpx.HTTPError as exc:
        sys.exit(f"{args.base_url} is not ready ({exc}); start the platform with `make run` first")

    sessions = setup.buyer_sessions(max(args.buyers, 2000))
    events = []
    if args.only in (None, "holds"):
        _section(f"holds at saturation: wrk, {args.connections} connections, {args.seconds}s")
        event = setup.create_event(args.seats, mode="simple", hold_ttl=10)
        events.append(event)
        seats = list(event.seat_map.seats.values_list("id", flat=True))
        holds.write_targets(event.pk, seats, sessions)
        _print(holds.run_wrk(args.base_url, args.connections, args.seconds))

        _section("holds at a steady offered load of about 500/s: 50 connections, 100 ms think time")
        event = setup.create_event(args.seats, mode="simple", hold_ttl=10)
        events.append(event)
        holds.write_targets(
            event.pk, list(event.seat_map.seats.values_list("id", flat=True)), sessions
        )
        _print(holds.run_wrk(args.base_url, 50, args.seconds, think_ms=100))

    if args.only in (None, "flow"):
        _section(
            f"end to end, queued: {args.buyers} buyers on {args.seats} seats, many on the same"
        )
        event = setup.create_event(args.seats, mode="queued")
        events.append(event)
        seats = list(event.seat_map.seats.order_by("id").values_list("id", flat=True))
        figures = flow.run_flow(args.base_url, event.pk, seats, sessions, args.buyers)
        figures["seats_sold_twice"] = len(double_sold_seats(event.pk))
        _print(figures)

    if args.only in (None, "worker"):
        from bench import worker

        _section("registration worker alone: 600 commands published straight to the queue")
        _print(worker.run())

    if args.only in (None, "extras"):
        for module in ("bench.websockets_fanout", "bench.browser_map", "bench.payments"):
            try:
                extra = importlib.import_module(module)
            except ModuleNotFoundError:
                continue
            _section(module)
            extra.main([])

    _section("integrity over every bench event")
    print(f"seats_sold_twice={sum(len(double_sold_seats(e.pk)) for e in events)}")


if __name__ == "__main__":
    main()
