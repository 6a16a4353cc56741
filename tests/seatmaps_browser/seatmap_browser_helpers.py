"""Browser and data helpers for the seat-map browser tests (a module, so tests can import it).

Tests use the transactional database (the server process must see their rows) and do their
ORM work before starting Playwright, whose sync API runs an event loop in the test's thread
(Django refuses ORM calls there); ``in_thread`` runs ORM work in between.
"""

import shutil
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, suppress
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connections
from django.utils import timezone

from tests.conftest import session_cookies

CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1400, "height": 1000}


def in_thread(function, *args, **kwargs):
    """Run ORM work outside Playwright's event loop (and close that thread's connection)."""

    def run():
        try:
            return function(*args, **kwargs)
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(run).result()


class Browser:
    """Debian's chromium with one context per buyer; every page is screenshotted on failure."""

    def __init__(self, base_url, shots_dir, name):
        self.base_url = base_url
        self.shots = shots_dir
        self.name = name
        self.pages = {}

    def buyer(self, label, cookies=None, viewport=DESKTOP):
        """A new browser context (its own cookies) with a page; ``cookies`` from
        ``session_cookies(user)`` log it in."""
        context = self.browser.new_context(viewport=viewport)
        if cookies:
            context.add_cookies(
                [{"name": k, "value": v, "url": self.base_url} for k, v in cookies.items()]
            )
        page = context.new_page()
        page.set_default_timeout(15_000)
        errors = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.js_errors = errors
        self.pages[label] = page
        return page

    def open_event(self, page, event_id, live=True):
        page.goto(f"{self.base_url}/events/{event_id}/")
        page.wait_for_function("window.seatMapReady !== undefined")
        if live:
            page.wait_for_selector("#seatmap[data-live='live']")
        return page

    def shot(self, page, step):
        page.screenshot(path=str(self.shots / f"{self.name}-{step}.png"), full_page=True)


@contextmanager
def chromium(base_url, shots_dir, name):
    sync_api = pytest.importorskip("playwright.sync_api")
    executable = shutil.which("chromium")
    if executable is None:
        pytest.skip("Debian's chromium is not installed")
    helper = Browser(base_url, shots_dir, name)
    with sync_api.sync_playwright() as playwright:
        helper.browser = playwright.chromium.launch(
            executable_path=executable, headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield helper
            for label, page in helper.pages.items():
                assert not page.js_errors, f"{label}: {page.js_errors}"
        except BaseException:
            for label, page in helper.pages.items():
                with suppress(Exception):  # best effort: the page may be gone
                    helper.shot(page, f"{label}-failure")
            raise
        finally:
            helper.browser.close()


# --- data (call before starting the browser) -------------------------------------------------


def publish(event):
    from ticketing.services.event_rules import publish_event_rules

    publish_event_rules(event)
    return event


def on_sale_event(organizer, seat_map, title, mode="simple", venue=None, **fields):
    from ticketing.models import Event

    now = timezone.now()
    return Event.objects.create(
        organizer=organizer,
        title=title,
        slug=f"{title.lower().replace(' ', '-')}-{time.monotonic_ns()}",
        venue=venue or seat_map.venue,
        seat_map=seat_map,
        starts_at=now + timedelta(days=14),
        ends_at=now + timedelta(days=14, hours=3),
        status=Event.Status.ON_SALE,
        registration_mode=mode,
        **fields,
    )


def theatre_event(organizer, mode="simple"):
    """A small theatre (3 rows of 8, one aisle) with two categories: rows A-B and row C."""
    from seatmaps.generator import LayoutParams, SectionSpec
    from seatmaps.models import Venue
    from seatmaps.services import create_procedural_map
    from ticketing.models import PriceCategory

    venue = Venue.objects.create(name="Studio Theatre", city="Leipzig")
    params = LayoutParams(
        sections=(
            SectionSpec(code="front", name="Front", rows=2, seats_per_row=8, aisles_after=(4,)),
            SectionSpec(code="back", name="Back", rows=1, seats_per_row=8, first_row=3),
        ),
        curve_radius=800.0,
    )
    seat_map = create_procedural_map(venue, "Studio", params)
    event = on_sale_event(organizer, seat_map, "Chamber Play", mode, max_seats_per_order=6)
    for name, price, color, code in (
        ("Category A", "45.00", "#7c3aed", "front"),
        ("Category B", "25.00", "#0891b2", "back"),
    ):
        category = PriceCategory.objects.create(
            event=event, name=name, price=Decimal(price), color=color
        )
        category.sections.set(seat_map.sections.filter(code=code))
    return publish(event)


def stadium_event(organizer, seats=3000, mode="queued"):
    """The demo stadium SVG (``seats`` seats) through the importer, three tiers of sections."""
    from seatmaps.demo import stadium_svg
    from seatmaps.models import Venue
    from seatmaps.services import import_svg_map
    from ticketing.models import PriceCategory

    venue = Venue.objects.create(name="Test Arena", city="Hamburg")
    seat_map, _report = import_svg_map(venue, "Bowl", stadium_svg(seats).encode())
    event = on_sale_event(organizer, seat_map, "Stadium Night", mode, max_seats_per_order=6)
    codes = list(seat_map.sections.order_by("position").values_list("code", flat=True))
    for (name, price, color), group in zip(
        (("Lower", "120.00", "#dc2626"), ("Middle", "85.00", "#ea580c"),
         ("Upper", "49.00", "#ca8a04")),
        (codes[:3], codes[3:6], codes[6:]),
        strict=True,
    ):  # fmt: skip
        category = PriceCategory.objects.create(
            event=event, name=name, price=Decimal(price), color=color
        )
        category.sections.set(seat_map.sections.filter(code__in=group))
    return publish(event)


def cookies_of(user):
    return session_cookies(user)
