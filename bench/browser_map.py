"""Browser speed of the seat-map page: a 20,000-seat SVG stadium in headless chromium.

Creates (or reuses) a 20,000-seat SVG stadium event in the development database, serves it
(its own uvicorn on a spare port, or ``--base-url`` of a running ``make run``), opens the buyer
page in Debian's chromium through Playwright and prints:

- ``map_interactive_ms``: navigation start to ``window.seatMapReady``, which the page's script
  sets once the map's handlers are wired, the live statuses applied and the first frame showing
  the map painted (median of the runs; ``map_interactive_max_ms`` the slowest);
- ``map_wired_ms``: navigation start to the handlers being wired (before that first frame);
- ``html_response_ms``: navigation start to the last byte of the page (server time included);
- ``apply_500_deltas_ms``: the script's time applying one batch of 500 seat changes (median of
  three batches, each handed to the page's live feed as if the WebSocket had sent it);
- ``apply_500_deltas_frame_ms``: from handing the batch over to the next painted frame;
- ``longest_task_ms``: the longest main-thread task while the batches were applied (Long Tasks
  API; tasks under 50 ms are not reported, so 0 means none reached 50 ms).

Run: ``python -m bench.browser_map`` (``--help`` for options); ``make bench`` runs it too.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import time
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import django

from infrastructure.processes import ManagedProcess, free_port, url_answers

ROOT = Path(__file__).resolve().parent.parent
SEATS = 20_000
SLUG = "bench-stadium-20k"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
TIERS = (("Lower tier", "120.00", "#dc2626"), ("Middle tier", "85.00", "#ea580c"),
         ("Upper tier", "49.00", "#ca8a04"))  # fmt: skip


def ensure_event(seats: int = SEATS):
    """The benchmark's stadium event, created on first use (importing the SVG takes seconds)."""
    from django.contrib.auth import get_user_model
    from django.utils import timezone

    from seatmaps.demo import stadium_svg
    from seatmaps.models import SeatMap, Venue
    from seatmaps.services import import_svg_map
    from ticketing.models import Event, PriceCategory
    from ticketing.services.event_rules import publish_event_rules

    slug = f"{SLUG}-{seats}" if seats != SEATS else SLUG
    event = Event.objects.filter(slug=slug).select_related("seat_map").first()
    if event is None:
        organizer, _ = get_user_model().objects.get_or_create(
            username="bench-organizer", defaults={"email": "bench-organizer@example.com"}
        )
        venue, _ = Venue.objects.get_or_create(name="Bench Arena", defaults={"city": "Benchville"})
        name = f"Stadium {seats}"
        seat_map = SeatMap.objects.filter(venue=venue, name=name).first()
        if seat_map is None:
            svg = stadium_svg(seats).encode()
            seat_map, _report = import_svg_map(venue, name, svg, max_bytes=len(svg) + 1)
        now = timezone.now()
        event = Event.objects.create(
            organizer=organizer,
            title=f"Stadium benchmark ({seats} seats)",
            slug=slug,
            venue=venue,
            seat_map=seat_map,
            starts_at=now + timedelta(days=365),
            ends_at=now + timedelta(days=365, hours=3),
            status=Event.Status.ON_SALE,
            registration_mode=Event.RegistrationMode.SIMPLE,
            max_seats_per_order=10,
        )
        codes = list(seat_map.sections.order_by("position").values_list("code", flat=True))
        third = max(len(codes) // 3, 1)
        groups = (codes[:third], codes[third : 2 * third], codes[2 * third :])
        for (name, price, color), group in zip(TIERS, groups, strict=True):
            category = PriceCategory.objects.create(
                event=event, name=name, price=Decimal(price), color=color
            )
            category.sections.set(seat_map.sections.filter(code__in=group))
    publish_event_rules(event)
    return event


class Server(ManagedProcess):
    """uvicorn serving HTTP, WebSockets and static files on a spare port (same environment)."""

    def __init__(self):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        super().__init__(
            [sys.executable, "-m", "uvicorn", "ticketing.asgi_static:application",
             "--host", "127.0.0.1", "--port", str(self.port), "--lifespan", "off",
             "--log-level", "warning", "--no-access-log"],
            log_path=ROOT / "var" / "log" / "bench-browser-map.log",
        )  # fmt: skip

    def __enter__(self):
        return self.start(url_answers(f"{self.url}/healthz"))


# Runs in the page: hands one batch of 500 single-seat changes to the live feed (as if the
# WebSocket had sent it) and resolves after the frame that shows them has been painted.
APPLY_DELTAS = """
async (count) => {
  const map = window.seatMap, feed = window.seatMapLive;
  const longTasks = [];
  let observer = null;
  if (PerformanceObserver.supportedEntryTypes.includes("longtask")) {
    observer = new PerformanceObserver((list) => longTasks.push(...list.getEntries()));
    observer.observe({ type: "longtask" });
  }
  const ids = [];
  for (const id of map.ids) {
    if (map.category.has(id) && map.displayOf(id) === "available") ids.push(id);
    if (ids.length === count) break;
  }
  const changes = ids.map((id, i) => ({
    seq: feed.last + 1 + i, seats: [id], status: i % 3 ? "held" : "sold",
  }));
  const frame = () => new Promise((resolve) => requestAnimationFrame(() => setTimeout(resolve, 0)));
  const started = performance.now();
  feed.handle({ type: "deltas", changes });
  await frame();
  const framed = performance.now() - started;
  await frame();
  if (observer) {
    observer.takeRecords().forEach((entry) => longTasks.push(entry));
    observer.disconnect();
  }
  return {
    seats: map.lastApply.seats,
    apply_ms: map.lastApply.ms,
    frame_ms: framed,
    longest_task_ms: Math.max(0, ...longTasks.map((t) => t.duration)),
    long_tasks: longTasks.length,
    longtask_supported: observer !== null,
  };
}
"""


def measure(base_url: str, event_id: int, runs: int) -> dict:
    from playwright.sync_api import sync_playwright

    executable = shutil.which("chromium")
    if executable is None:
        raise RuntimeError("Debian's chromium is not installed")
    url = f"{base_url}/events/{event_id}/"
    loads, wired, responses, sizes = [], [], [], []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=executable, headless=True, args=CHROMIUM_ARGS
        )
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(url)  # warm-up: fills the server's caches and the browser's module cache
            page.wait_for_function("window.seatMapReady !== undefined", timeout=60_000)
            for _ in range(runs):
                page.goto(url)
                page.wait_for_function("window.seatMapReady !== undefined", timeout=60_000)
                timing = page.evaluate(
                    """() => {
                      const nav = performance.getEntriesByType("navigation")[0];
                      return {ready: window.seatMapReady, wired: window.seatMapTimings.wired,
                              response: nav.responseEnd, size: nav.transferSize,
                              seats: window.seatMap.elements.size};
                    }"""
                )
                loads.append(timing["ready"])
                wired.append(timing["wired"])
                responses.append(timing["response"])
                sizes.append(timing["size"])
            page.wait_for_function(
                "document.getElementById('seatmap').dataset.live === 'live'", timeout=30_000
            )
            batches = []
            for _ in range(3):
                page.wait_for_timeout(500)  # let the page settle between batches
                batches.append(page.evaluate(APPLY_DELTAS, 500))
        finally:
            browser.close()
    return {
        "seats_on_map": timing["seats"],
        "page_bytes": sizes[-1],
        "html_response_ms": statistics.median(responses),
        "map_interactive_ms": statistics.median(loads),
        "map_interactive_max_ms": max(loads),
        "map_wired_ms": statistics.median(wired),
        "apply_500_deltas_ms": statistics.median(b["apply_ms"] for b in batches),
        "apply_500_deltas_frame_ms": statistics.median(b["frame_ms"] for b in batches),
        "apply_500_deltas_frame_max_ms": max(b["frame_ms"] for b in batches),
        "longest_task_ms": max(b["longest_task_ms"] for b in batches),
        "long_tasks": sum(b["long_tasks"] for b in batches),
        "deltas_applied": sum(b["seats"] for b in batches),
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--base-url",
        default=os.environ.get("BENCH_MAP_URL"),
        help="a running server (e.g. http://127.0.0.1:8000 of `make run`); default: start one",
    )
    parser.add_argument("--seats", type=int, default=SEATS)
    parser.add_argument("--runs", type=int, default=5, help="page loads measured")
    args = parser.parse_args(argv)

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ticketing.settings")
    django.setup()
    started = time.monotonic()
    event = ensure_event(args.seats)
    print(f"event={event.pk} setup_s={time.monotonic() - started:.1f}")
    if args.base_url:
        figures = measure(args.base_url.rstrip("/"), event.pk, args.runs)
    else:
        with Server() as server:
            figures = measure(server.url, event.pk, args.runs)
    for key, value in figures.items():
        print(f"{key}={value:.1f}" if isinstance(value, float) else f"{key}={value}")
    return figures


if __name__ == "__main__":
    main()
