"""The buyer page in Debian's chromium: two buyers, live seat colours, holds, both booking flows.

Every test starts the real app (uvicorn: HTTP, WebSockets, static files) on the test database;
screenshots of each step are kept in test-artifacts/seatmaps/.
"""

import re
import time

import pytest
from playwright.sync_api import expect
from seatmap_browser_helpers import (
    PHONE,
    chromium,
    cookies_of,
    on_sale_event,
    publish,
    stadium_event,
    theatre_event,
)

from seatmaps.models import Seat

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

HELD = re.compile(r"\bs-held\b")
SOLD = re.compile(r"\bs-sold\b")
BOOKED = re.compile(r"\bs-booked\b")
MINE = re.compile(r"\bs-mine\b")


def seat(page, seat_id):
    return page.locator(f'#seatmap [data-seat-id="{seat_id}"]')


def seat_id_of(event, section, row, number):
    return Seat.objects.get(
        seat_map=event.seat_map, section__code=section, row_label=row, number=str(number)
    ).pk


def focused_seat(page):
    return page.evaluate(
        "() => [Number(document.activeElement.getAttribute('data-seat-id')),"
        " document.activeElement.getAttribute('aria-label')]"
    )


def test_two_buyers_keyboard_hold_live_colours_simple_booking_and_conflict(
    asgi_server, shots, make_user, organizer
):
    # given a theatre event (simple registration) and two logged-in buyers
    event = theatre_event(organizer, mode="simple")
    a1, a2, a3 = (seat_id_of(event, "front", "A", n) for n in (1, 2, 3))
    buyer_a, buyer_b = cookies_of(make_user()), cookies_of(make_user())

    with chromium(asgi_server, shots, "theatre") as browser:
        page_a = browser.open_event(browser.buyer("a", buyer_a), event.pk)
        page_b = browser.open_event(browser.buyer("b", buyer_b), event.pk)

        # every seat has an accessible name, button semantics and a pressed state
        expect(seat(page_a, a2)).to_have_attribute(
            "aria-label", "Front, Row A, seat 2, Category A, 45.00 EUR, available"
        )
        expect(seat(page_a, a2)).to_have_attribute("role", "button")
        expect(seat(page_a, a2)).to_have_attribute("aria-pressed", "false")

        # B picks A2 and A3 with the mouse but does not hold them yet
        seat(page_b, a2).click()
        seat(page_b, a3).click()
        expect(page_b.locator("#selection-count")).to_have_text("2")

        # when A tabs into the map and selects A2 and A3 with the keyboard
        page_a.focus("#zoom-reset")
        page_a.keyboard.press("Tab")
        assert focused_seat(page_a)[0] == a1
        page_a.keyboard.press("ArrowRight")
        page_a.keyboard.press("Enter")
        page_a.keyboard.press("ArrowRight")
        page_a.keyboard.press(" ")
        assert focused_seat(page_a)[0] == a3
        page_a.keyboard.press("ArrowDown")
        assert "Row B" in focused_seat(page_a)[1]
        expect(seat(page_a, a2)).to_have_attribute("aria-pressed", "true")
        expect(seat(page_a, a3)).to_have_attribute("aria-pressed", "true")
        expect(page_a.locator("#selection-total")).to_have_text("90.00 EUR")
        browser.shot(page_a, "1-a-selected")

        # and holds them
        page_a.click("#hold-button")
        expect(page_a.locator("#hold-panel")).to_be_visible()
        held_at = time.monotonic()
        expect(page_a.locator("#hold-countdown")).to_have_text(re.compile(r"^(10:00|09:\d\d)$"))
        expect(seat(page_a, a2)).to_have_class(MINE)

        # then B sees them turn held within a second, without reloading
        expect(seat(page_b, a2)).to_have_class(HELD, timeout=1000)
        expect(seat(page_b, a3)).to_have_class(HELD, timeout=1000)
        assert time.monotonic() - held_at < 1.0
        expect(seat(page_b, a2)).to_have_attribute("aria-label", re.compile(r", held$"))
        browser.shot(page_b, "2-b-sees-held")

        # when A books (simple flow: the booking comes back at once)
        page_a.click("#book-button")
        expect(page_a.locator("#booking-text")).to_contain_text("Booked!")
        link = page_a.locator("#ticket-link")
        expect(link).to_be_visible()
        expect(link).to_have_attribute(
            "href", re.compile(r"/api/v1/bookings/[0-9a-f-]+/tickets\.pdf$")
        )
        pdf = page_a.request.get(f"{asgi_server}{link.get_attribute('href')}")
        assert pdf.status == 200
        assert pdf.body().startswith(b"%PDF")

        # then both see the seats sold
        expect(seat(page_a, a2)).to_have_class(BOOKED)
        expect(seat(page_a, a3)).to_have_attribute("aria-label", re.compile(r"booked by you$"))
        expect(seat(page_b, a2)).to_have_class(SOLD)
        expect(seat(page_b, a3)).to_have_class(SOLD)
        browser.shot(page_a, "3-a-booked")

        # and B's attempt on them gets the conflict message
        page_b.click("#hold-button")
        conflict = page_b.locator("#conflict")
        expect(conflict).to_be_visible()
        expect(conflict).to_contain_text("someone else got there first")
        expect(conflict).to_contain_text("Row A, seat 2")
        expect(page_b.locator("#selection-count")).to_have_text("0")
        browser.shot(page_b, "4-b-conflict")


def test_stadium_with_zoom_queued_booking_result_over_websocket(
    asgi_server, shots, make_user, organizer, booking_worker
):
    # given the demo stadium (an imported SVG map) sold in the queued flow
    event = stadium_event(organizer, seats=3000, mode="queued")
    row = Seat.objects.filter(seat_map=event.seat_map, section__code="N", row_label="1")
    middle = row.count() // 2
    first, second = (seat_id_of(event, "N", "1", n) for n in (middle, middle + 1))
    buyer_a, buyer_b = cookies_of(make_user()), cookies_of(make_user())

    with chromium(asgi_server, shots, "stadium") as browser:
        page_a = browser.buyer("a", buyer_a)
        frames = []
        page_a.on(
            "websocket",
            lambda ws: (
                ws.on(
                    "framereceived",
                    lambda payload: frames.append((time.monotonic(), ws.url, payload)),
                )
                or ws.on("close", lambda _: frames.append((time.monotonic(), ws.url, "CLOSED")))
            ),
        )
        browser.open_event(page_a, event.pk)
        page_b = browser.open_event(browser.buyer("b", buyer_b), event.pk)
        assert page_a.locator("#seatmap [data-seat-id]").count() == 3000
        browser.shot(page_a, "1-overview")

        # when A zooms in with the buttons and the mouse wheel, and drags the map around
        full_width = view_width(page_a)
        page_a.click("#zoom-in")
        page_a.click("#zoom-in")
        expect(page_a.locator("#seatmap")).to_have_attribute("data-zoom", "2.56")
        box = page_a.locator("#seatmap").bounding_box()
        page_a.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
        page_a.mouse.wheel(0, -300)
        page_a.wait_for_function("window.seatMapViewport.zoom > 3")
        assert view_width(page_a) < full_width / 3
        drag_into_view(page_a, first)
        # B zooms in too and picks the same two seats first
        page_b.click("#zoom-in")
        page_b.click("#zoom-in")
        drag_into_view(page_b, first)
        seat(page_b, first).click()
        seat(page_b, second).click()
        expect(page_b.locator("#selection-count")).to_have_text("2")

        # and A selects one seat by clicking it and its neighbour with the keyboard
        seat(page_a, first).click()
        page_a.keyboard.press("ArrowRight")
        assert focused_seat(page_a)[0] == second
        page_a.keyboard.press("Enter")
        expect(page_a.locator("#selection-count")).to_have_text("2")
        expect(page_a.locator("#selection-total")).to_have_text("240.00 EUR")
        browser.shot(page_a, "2-zoomed-selected")
        page_a.click("#hold-button")
        expect(page_a.locator("#hold-panel")).to_be_visible()

        # then B sees them held within a second
        expect(seat(page_b, first)).to_have_class(HELD, timeout=1000)
        expect(seat(page_b, second)).to_have_class(HELD, timeout=1000)

        # when A books: the queued flow answers "in the queue", the result comes over /ws/me/
        booked_at = time.monotonic()
        page_a.click("#book-button")
        expect(page_a.locator("#ticket-link")).to_be_visible(timeout=30_000)
        states = page_a.evaluate("window.seatMapBookingStates")
        pushes = [(round(t - booked_at, 2), f) for t, url, f in frames if "/ws/me/" in url]
        assert states[:2] == [
            {"state": "pending", "via": "response"},
            {"state": "queued", "via": "response"},
        ], (states, pushes)
        assert states[-1] == {"state": "confirmed", "via": "ws"}, (states, pushes)
        browser.shot(page_a, "3-booked")

        # then both see them sold, and B's attempt gets the conflict message
        expect(seat(page_a, first)).to_have_class(BOOKED)
        expect(seat(page_b, first)).to_have_class(SOLD)
        expect(seat(page_b, second)).to_have_class(SOLD)
        page_b.click("#hold-button")
        expect(page_b.locator("#conflict")).to_contain_text("someone else got there first")
        browser.shot(page_b, "4-b-conflict")


def view_width(page):
    return float(page.locator("#seatmap svg").get_attribute("viewBox").split()[2])


def drag_into_view(page, seat_id):
    """Drag the map with the mouse until the seat is in the middle of the view."""
    move = page.evaluate(
        """(id) => {
          const p = window.seatMap.position(id), v = window.seatMapViewport;
          const r = v.svg.getBoundingClientRect();
          const s = Math.max(v.view.w / r.width, v.view.h / r.height);
          return {x: r.left + r.width / 2, y: r.top + r.height / 2,
                  dx: (v.view.x + v.view.w / 2 - p.x) / s, dy: (v.view.y + v.view.h / 2 - p.y) / s};
        }""",
        seat_id,
    )
    before = page.locator("#seatmap svg").get_attribute("viewBox")
    page.mouse.move(move["x"], move["y"])
    page.mouse.down()
    page.mouse.move(move["x"] + move["dx"] / 2, move["y"] + move["dy"] / 2, steps=4)
    page.mouse.move(move["x"] + move["dx"], move["y"] + move["dy"], steps=4)
    page.mouse.up()
    expect(page.locator("#seatmap svg")).not_to_have_attribute("viewBox", before)
    expect(seat(page, seat_id)).to_be_in_viewport()


def test_best_available_from_the_page_holds_adjacent_seats(
    asgi_server, shots, organizer, make_user
):
    event = theatre_event(organizer)
    category_a = event.price_categories.get(name="Category A")
    buyer = cookies_of(make_user())

    with chromium(asgi_server, shots, "best-available") as browser:
        page = browser.open_event(browser.buyer("a", buyer), event.pk)
        page.select_option("#best-quantity", "3")
        page.select_option("#best-category", str(category_a.pk))
        page.click("#best-form button[type=submit]")
        expect(page.locator("#hold-panel")).to_be_visible()
        expect(page.locator("#hold-list li")).to_have_count(3)
        expect(page.locator("#hold-total")).to_have_text("135.00 EUR")
        held = [int(i) for i in page.locator("#hold-list li").evaluate_all(
            "items => items.map(li => li.dataset.seatId)")]  # fmt: skip
        for seat_id in held:
            expect(seat(page, seat_id)).to_have_class(MINE)
        browser.shot(page, "held")

    seats = Seat.objects.filter(pk__in=held).select_related("section")
    assert {(s.section.code, s.row_label) for s in seats} == {("front", "A")} or {
        (s.section.code, s.row_label) for s in seats
    } == {("front", "B")}
    numbers = sorted(int(s.number) for s in seats)
    assert numbers == list(range(numbers[0], numbers[0] + 3))
    assert numbers[-1] <= 4 or numbers[0] >= 5, "never across the aisle after seat 4"


def test_logged_out_buyers_see_the_map_and_a_login_link_on_a_phone(asgi_server, shots, organizer):
    event = theatre_event(organizer)
    a1 = seat_id_of(event, "front", "A", 1)

    with chromium(asgi_server, shots, "logged-out-phone") as browser:
        page = browser.open_event(browser.buyer("anon", viewport=PHONE), event.pk)
        login = page.locator("#login-to-buy")
        expect(login).to_be_visible()
        expect(login).to_have_attribute("href", re.compile(rf"next=%2Fevents%2F{event.pk}%2F"))
        expect(page.locator("#hold-button")).to_have_count(0)
        # the map fits the phone's width, and the panel comes below it
        map_box = page.locator("#seatmap").bounding_box()
        panel_box = page.locator("#buy-panel").bounding_box()
        assert map_box["width"] <= PHONE["width"]
        assert panel_box["y"] > map_box["y"] + map_box["height"] - 1
        # seats can still be explored and selected to see prices
        seat(page, a1).click()
        expect(page.locator("#selection-total")).to_have_text("45.00 EUR")
        browser.shot(page, "page")


def test_general_admission_shows_a_quantity_picker_and_books(
    asgi_server, shots, organizer, make_user
):
    from seatmaps.models import Venue
    from ticketing.models import PriceCategory

    venue = Venue.objects.create(name="Meadow", city="Bonn")
    event = on_sale_event(organizer, None, "Open Air", venue=venue, capacity=50)
    PriceCategory.objects.create(event=event, name="Standing", price="30.00")
    publish(event)
    buyer = cookies_of(make_user())

    with chromium(asgi_server, shots, "general-admission") as browser:
        page = browser.open_event(browser.buyer("a", buyer), event.pk, live=False)
        expect(page.locator("#seatmap")).to_have_count(0)
        expect(page.locator("#ga-available")).to_have_text("50")
        page.fill("#ga-quantity", "2")
        page.click("#ga-form button[type=submit]")
        expect(page.locator("#hold-total")).to_have_text("60.00 EUR")
        page.click("#book-button")
        expect(page.locator("#booking-text")).to_contain_text("Booked!")
        expect(page.locator("#ticket-link")).to_be_visible()
        browser.shot(page, "booked")
