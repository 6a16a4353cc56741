"""The demo organizer's day in the browser (Debian's chromium, the real Keycloak login page):
log in through Keycloak, find the demo events, watch the sales dashboard update while tickets
sell, and cancel an event through the confirmation page.

The live server is the one the realm allows as a redirect URI (tests/auth: localhost:8765).
Database work runs in a helper thread: the ORM must not run in the thread that drives
Playwright's sync API (it runs an event loop there).
"""

import re
import threading
import uuid
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.db import connection
from django.utils import timezone
from rest_framework.test import APIClient

from registration_worker.models import Booking
from sales.rebuild import rebuild_sales
from tests.auth.test_keycloak_browser_login import ARTIFACTS, _keycloak_login, chromium_page
from ticketing.models import Event

pytestmark = [
    pytest.mark.keycloak,
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
]

SHOTS = ARTIFACTS.parent / "sales"


def in_thread(work):
    """Run ``work`` in a thread with its own database connection; returns its result."""
    result = {}

    def run():
        try:
            result["value"] = work()
        except BaseException as exc:  # re-raised in the caller
            result["error"] = exc
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(60)
    if "error" in result:
        raise result["error"]
    return result.get("value")


def _buy(event_slug: str, count: int, buyer_name: str) -> list[str]:
    """``count`` simple-flow bookings of two seats each for ``event_slug``."""
    from django.contrib.auth import get_user_model

    event = Event.objects.get(slug=event_slug)
    taken = set(event.tickets.values_list("seat_id", flat=True))
    free = [s for s in event.seat_map.seats.order_by("id").values_list("id", flat=True)
            if s not in taken]  # fmt: skip
    booked = []
    for i in range(count):  # a buyer each: one buyer may own only so many seats
        client = APIClient()
        client.force_authenticate(
            get_user_model().objects.create(username=f"{buyer_name}-{uuid.uuid4().hex[:8]}")
        )
        held = client.post(
            f"/api/v1/events/{event.pk}/holds/", {"seats": free[2 * i : 2 * i + 2]}, format="json"
        )
        assert held.status_code == 201, held.content
        response = client.post(
            "/api/v1/registrations/", {"hold": held.json()["id"]}, format="json",
            HTTP_IDEMPOTENCY_KEY=uuid.uuid4().hex,
        )  # fmt: skip
        assert response.status_code == 201, response.content
        booked.append(response.json()["id"])
    return booked


def _a_sale_over_the_last_hours():
    """Demo data and a sale spread over five hours (bookings backdated on the booking side,
    then the read model rebuilt from it)."""
    call_command("load_demo")
    booked = _buy("hamlet", 12, "early")
    now = timezone.now()
    for i, booking_id in enumerate(booked):
        Booking.objects.filter(pk=booking_id).update(
            # whole hours back: five clock hours whatever the minute the test runs at
            confirmed_at=now - timedelta(hours=4 - i % 5)
        )
    rebuild_sales()
    return Event.objects.get(slug="hamlet").pk, Event.objects.get(slug="open-air").pk


def _sold_on_page(page) -> int:
    return int(page.locator("#sales-sold").inner_text())


def test_the_demo_organizer_logs_in_watches_sales_and_cancels_an_event(
    keycloak, keycloak_live_server, projector, settings
):
    settings.SALES_DASHBOARD_REFRESH_SECONDS = 1
    hamlet, open_air = in_thread(_a_sale_over_the_last_hours)
    projector.start()  # from now on the outbox relay feeds the read model
    base = keycloak_live_server.url
    SHOTS.mkdir(parents=True, exist_ok=True)
    with chromium_page("organizer-sales") as page:
        page.set_viewport_size({"width": 1280, "height": 1400})
        # given the demo organizer logged in through Keycloak
        page.goto(f"{base}/admin/login/?next=/admin/ticketing/event/")
        page.click("#keycloak-login")
        _keycloak_login(page, "organizer@example.com", "organizer")
        page.wait_for_url(f"{base}/admin/ticketing/event/")
        # then the demo events are theirs
        listing = page.locator("#result_list").inner_text()
        for title in ("Hamlet", "The Big Stadium Tour", "Open Air Festival"):
            assert title in listing

        # when they open Hamlet's sales dashboard
        page.locator(f'a[href="/admin/ticketing/event/{hamlet}/sales/"]').click()
        page.wait_for_url(f"{base}/admin/ticketing/event/{hamlet}/sales/")
        assert _sold_on_page(page) == 24
        assert page.locator("svg.sales-chart").count() == 2
        assert page.locator("#sales-over-time svg rect").count() == 5  # five hours of sales
        page.screenshot(path=str(SHOTS / "organizer-dashboard.png"), full_page=True)

        # and tickets sell meanwhile: the figures follow without a reload
        in_thread(lambda: _buy("hamlet", 3, "late"))
        page.wait_for_function(
            "() => document.querySelector('#sales-sold').textContent.trim() === '30'",
            timeout=30_000,
        )

        # when they cancel Open Air Festival through the list's action
        page.goto(f"{base}/admin/ticketing/event/")
        page.check(f'input[name="_selected_action"][value="{open_air}"]')
        page.select_option('select[name="action"]', "cancel_events")
        page.click('button[name="index"]')
        # then a confirmation page asks first, with what would be refunded
        page.wait_for_selector("#confirm-cancel")
        assert "Open Air Festival" in page.locator("#cancel-events").inner_text()
        assert "refund total 0.00" in page.locator("#cancel-summary").inner_text()
        page.fill("textarea[name=reason]", "Storm warning for the whole weekend.")
        page.click("#confirm-cancel")
        page.wait_for_url(re.compile(rf"^{re.escape(base)}/admin/ticketing/event/"))
        assert "Cancelled; 0 bookings cancelled." in page.locator(".messagelist").inner_text()

    statuses = in_thread(
        lambda: dict(Event.objects.filter(pk__in=[hamlet, open_air]).values_list("pk", "status"))
    )
    assert statuses == {hamlet: "on_sale", open_air: "cancelled"}
