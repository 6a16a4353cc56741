"""Finding an event in Debian's chromium: the search narrows the list, a result opens the event.

The screenshot of the searched list (test-artifacts/seatmaps/catalog-search.png) is the one in
docs/img/.
"""

import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from playwright.sync_api import expect
from seatmap_browser_helpers import chromium

from seatmaps.models import Venue
from ticketing.models import Event, PriceCategory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

BERLIN, ZURICH = "Europe/Berlin", "Europe/Zurich"
CATALOG = [
    # title, (venue, city, zone), start (UTC), (category, price, currency), listed
    (
        "Jazz im Hof",
        ("Philharmonie", "Berlin", BERLIN),
        (2027, 3, 10, 19),
        ("Parkett", "45.00", "EUR"),
        True,
    ),
    (
        "Zürich Jazz Nights",
        ("Tonhalle", "Zürich", ZURICH),
        (2027, 4, 1, 18),
        ("Saal", "60.00", "CHF"),
        True,
    ),
    (
        "Hamlet",
        ("Schauspielhaus", "Hamburg", BERLIN),
        (2027, 2, 14, 18),
        ("Parkett", "38.00", "EUR"),
        True,
    ),
    (
        "Rock am Ring",
        ("Ring Arena", "Nürburg", BERLIN),
        (2027, 6, 5, 16),
        ("Standing", "89.00", "EUR"),
        True,
    ),
    (
        "Bench queued 50",
        ("Bench hall", "Benchville", BERLIN),
        (2027, 1, 1, 12),
        ("B", "10.00", "EUR"),
        False,
    ),
]


def _catalog(organizer) -> dict[str, Event]:
    events = {}
    for title, (venue, city, zone), start, (category, price, currency), listed in CATALOG:
        starts = datetime(*start, tzinfo=UTC)
        event = Event.objects.create(
            organizer=organizer,
            title=title,
            slug=re.sub(r"[^a-z0-9]+", "-", title.lower()),
            venue=Venue.objects.create(name=venue, city=city, time_zone=zone),
            capacity=200,
            starts_at=starts,
            ends_at=starts + timedelta(hours=3),
            status=Event.Status.ON_SALE,
            listed=listed,
        )
        PriceCategory.objects.create(
            event=event, name=category, price=Decimal(price), currency=currency
        )
        events[title] = event
    return events


def test_search_narrows_the_list_and_a_result_opens_the_event(asgi_server, shots, organizer):
    events = _catalog(organizer)

    with chromium(asgi_server, shots, "catalog") as browser:
        page = browser.buyer("visitor")
        page.goto(f"{asgi_server}/events/")
        cards = page.locator(".event-card")
        expect(cards).to_have_count(4)  # the unlisted bench event is not in the catalog

        page.get_by_label("Search").fill("jazz")
        page.get_by_role("button", name="Search").click()

        expect(cards).to_have_count(2)
        expect(page).to_have_url(re.compile(r"/events/\?q=jazz"))
        expect(page.locator("#result-count")).to_have_text("2 events found")
        expect(cards.first).to_contain_text("Wed 10 Mar 2027, 20:00 CET (Europe/Berlin)")
        expect(cards.nth(1)).to_contain_text("from 60.00 CHF")
        browser.shot(page, "search")

        # The search is a link: opening it again gives the same list
        page.goto(page.url)
        expect(cards).to_have_count(2)

        cards.filter(has_text="Zürich Jazz Nights").get_by_role("link").click()

        zurich = events["Zürich Jazz Nights"]
        expect(page).to_have_url(f"{asgi_server}/events/{zurich.pk}/")
        expect(page.get_by_role("heading", level=1)).to_have_text("Zürich Jazz Nights")
        expect(page.locator(".event-meta")).to_contain_text("20:00 CEST (Europe/Zurich)")
