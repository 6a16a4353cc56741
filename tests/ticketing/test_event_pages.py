"""The buyer pages as HTML: list, seated and general-admission event pages, who sees drafts."""

import json
import re

import pytest
from django.test import Client

from seatmaps.models import Seat, Section
from tests.conftest import create_ga_event, create_seated_event, seat_ids
from ticketing.models import Event
from ticketing.services.event_rules import publish_event_rules
from ticketing.services.holds import create_hold

pytestmark = pytest.mark.django_db


def page(client, event):
    response = client.get(f"/events/{event.pk}/")
    assert response.status_code == 200, response.status_code
    return response.content.decode()


def config_of(html):
    return json.loads(
        re.search(r'id="event-config" type="application/json">(.*?)</script>', html).group(1)
    )


def test_the_list_shows_published_events_only(organizer):
    on_sale = create_seated_event(organizer, title="Concert on sale")
    create_seated_event(organizer, title="Secret draft", status=Event.Status.DRAFT)
    html = Client().get("/events/").content.decode()
    assert "Concert on sale" in html
    assert f'href="/events/{on_sale.pk}/"' in html
    assert "Secret draft" not in html
    assert "from 45.00" in html


def test_a_seated_page_has_the_map_with_accessible_seats_and_the_live_state(organizer, make_user):
    # given an event with one seat held by someone
    event = create_seated_event(organizer, rows=2, seats_per_row=3)
    ids = seat_ids(event)
    create_hold(user_id=make_user().pk, event_id=event.pk, seat_ids=[ids[0]])
    category = event.price_categories.get()
    # when a visitor opens the page
    html = page(Client(), event)
    # then every seat is a button named by row, number, category, price and status
    assert html.count('role="button" aria-pressed="false"') == 6
    seat = Seat.objects.get(pk=ids[4])
    assert (
        f'data-seat-id="{seat.pk}" class="seat c-{category.pk}" role="button" '
        f'aria-pressed="false" aria-label="Row B, seat 2, Category A, 45.00 EUR, available"'
    ) in html
    # coloured by a class per category, one CSS rule each (no per-seat styles)
    assert f".c-{category.pk}{{--seat-color:#3b82f6}}" in html
    assert "style=" not in re.search(r"<svg.*</svg>", html, re.S).group(0)
    # the live state the script starts from, and the geometry for keyboard navigation
    config = config_of(html)
    assert config["initial"]["held"] == [ids[0]]
    assert config["event"]["maxSeats"] == 10
    geometry = json.loads(
        re.search(r'id="seat-geometry" type="application/json">(.*?)</script>', html).group(1)
    )
    assert geometry["ids"] == ids
    assert geometry["cat"] == [category.pk] * 6
    # logged out: a way to log in, no hold button
    assert 'id="login-to-buy"' in html
    assert f"next=%2Fevents%2F{event.pk}%2F" in html
    assert 'id="hold-button"' not in html


def test_a_logged_in_buyer_gets_the_buying_controls(organizer, make_user):
    event = create_seated_event(organizer)
    client = Client()
    client.force_login(make_user())
    html = page(client, event)
    assert 'id="hold-button"' in html
    assert 'id="best-form"' in html
    assert 'id="login-to-buy"' not in html
    assert "csrftoken" in client.cookies


def test_seats_outside_every_category_are_not_on_sale(organizer):
    event = create_seated_event(organizer, rows=1, seats_per_row=2)
    extra = Section.objects.create(seat_map=event.seat_map, code="box", name="Box")
    Seat.objects.create(
        seat_map=event.seat_map, section=extra, row_label="", number="1", label="Box 1"
    )
    event.seat_map.bump_revision()
    publish_event_rules(event)
    html = page(Client(), event)
    assert (
        'class="seat c-none" role="button" aria-disabled="true" '
        'aria-label="Box, Seat 1, not on sale"' in html
    )
    # with two sections the section is part of every seat's name
    assert 'aria-label="Stalls, Row A, seat 1, Category A, 45.00 EUR, available"' in html


def test_an_unsafe_colour_never_reaches_the_style_sheet(organizer):
    event = create_seated_event(organizer)
    category = event.price_categories.get()
    category.color = "red}*{x"
    category.save()
    publish_event_rules(event)
    html = page(Client(), event)
    assert "red}" not in html
    assert f".c-{category.pk}{{--seat-color:#64748b}}" in html


def test_general_admission_shows_a_quantity_picker(organizer, make_user):
    event = create_ga_event(organizer, capacity=8)
    client = Client()
    client.force_login(make_user())
    html = page(client, event)
    assert 'id="seatmap"' not in html
    assert 'id="ga-quantity"' in html
    assert '<span id="ga-available">8</span> of 8' in html
    assert config_of(html)["event"]["generalAdmission"] is True


def test_drafts_are_visible_to_their_organizer_only(organizer, make_user):
    draft = create_seated_event(organizer, status=Event.Status.DRAFT)
    assert Client().get(f"/events/{draft.pk}/").status_code == 404
    stranger = Client()
    stranger.force_login(make_user())
    assert stranger.get(f"/events/{draft.pk}/").status_code == 404
    owner = Client()
    owner.force_login(organizer)
    assert "Draft preview" in page(owner, draft)
    assert Client().get("/events/999999/").status_code == 404


def test_closed_sales_disable_buying(organizer, make_user):
    event = create_seated_event(organizer, status=Event.Status.CLOSED)
    client = Client()
    client.force_login(make_user())
    html = page(client, event)
    assert "Sales are not open" in html
    assert config_of(html)["event"]["salesOpen"] is False
