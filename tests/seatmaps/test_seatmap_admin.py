"""Organizer tools in the admin: procedural maps with a live preview, SVG uploads with the
importer's report, sections, and price categories limited to the event's sections."""

import pytest
from django.contrib.auth.models import Group, Permission
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from seatmap_helpers import make_event, sell_ticket, small_theatre

from seatmaps import services
from seatmaps.demo import stadium_svg
from seatmaps.forms import format_sections, parse_sections
from seatmaps.models import SeatMap, Section

pytestmark = pytest.mark.django_db

ADD_URL = "/admin/seatmaps/seatmap/add/"
PREVIEW_URL = "/admin/seatmaps/seatmap/preview/"


@pytest.fixture
def olga(django_user_model):
    """A staff organizer with the Organizers group's permissions (as load_demo sets them)."""
    group, _ = Group.objects.get_or_create(name="Organizers")
    group.permissions.set(
        Permission.objects.filter(content_type__app_label__in=["ticketing", "seatmaps"])
    )
    user = django_user_model.objects.create_user("olga", password="pw", is_staff=True)
    user.groups.add(group)
    return user


@pytest.fixture
def organizer_client(olga):
    client = Client()
    client.force_login(olga)
    return client


def layout_fields(sections="stalls | Stalls | 3 | 6 | aisles=3", **overrides):
    fields = {
        "sections": sections,
        "row_labels": "letters",
        "skip_letters": "",
        "numbering": "left_to_right",
        "seat_spacing": "30",
        "row_spacing": "34",
        "aisle_width": "30",
        "section_gap": "50",
        "curve_radius": "0",
    }
    return fields | overrides


def management_form(prefix="sections", total=0, initial=0):
    return {
        f"{prefix}-TOTAL_FORMS": str(total),
        f"{prefix}-INITIAL_FORMS": str(initial),
        f"{prefix}-MIN_NUM_FORMS": "0",
        f"{prefix}-MAX_NUM_FORMS": "1000",
    }


def test_the_section_lines_round_trip_every_generator_option():
    from seatmaps.demo import theatre_params

    sections = theatre_params().sections
    assert parse_sections(format_sections(sections)) == sections


def test_the_live_preview_draws_the_form_values(organizer_client):
    # when the half-filled form is posted to the preview view
    response = organizer_client.post(PREVIEW_URL, layout_fields())
    # then it answers the SVG of that layout
    assert response.status_code == 200
    assert response["Content-Type"] == "image/svg+xml"
    svg = response.content.decode()
    assert svg.startswith("<svg") and svg.count('class="seat"') == 18
    # and explains what is wrong with bad values
    bad = organizer_client.post(PREVIEW_URL, layout_fields(sections="stalls | Stalls | x | 6"))
    assert bad.status_code == 400
    assert "Line 1" in bad.content.decode()
    too_wide = organizer_client.post(
        PREVIEW_URL, layout_fields(sections="s | S | 2 | 4 | aisles=9")
    )
    assert too_wide.status_code == 400


def test_the_add_page_shows_the_live_preview(organizer_client):
    page = organizer_client.get(ADD_URL)
    assert page.status_code == 200
    html = page.content.decode()
    assert 'id="seatmap-live-preview"' in html
    assert 'data-url="/admin/seatmaps/seatmap/preview/"' in html
    assert "seatmaps/admin_preview.js" in html
    assert "?kind=svg" in html


def test_creating_a_procedural_map(organizer_client, venue):
    response = organizer_client.post(
        ADD_URL, {"venue": venue.pk, "name": "Main hall", **layout_fields()}
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    seat_map = SeatMap.objects.get(name="Main hall")
    assert response["Location"] == f"/admin/seatmaps/seatmap/{seat_map.pk}/change/"
    assert seat_map.kind == "procedural"
    assert seat_map.seats.count() == 18
    # the change page shows the map, its sections and the layout to tweak
    page = organizer_client.get(response["Location"]).content.decode()
    assert page.count("data-seat-id=") == 18
    assert "stalls | Stalls | 3 | 6 | aisles=3" in page
    assert 'name="sections-0-position"' in page


def test_changing_the_layout_regenerates_until_a_seat_is_sold(organizer_client, olga, venue):
    seat_map = services.create_procedural_map(venue, "Hall", small_theatre(rows=2, seats=4), olga)
    url = f"/admin/seatmaps/seatmap/{seat_map.pk}/change/"
    section = seat_map.sections.get()
    form = {
        "venue": venue.pk,
        "name": "Hall",
        **layout_fields(sections="stalls | Stalls | 3 | 5"),
        **management_form(total=1, initial=1),
        "sections-0-id": section.pk,
        "sections-0-seat_map": seat_map.pk,
        "sections-0-name": "Stalls",
        "sections-0-position": "0",
    }
    assert organizer_client.post(url, form).status_code == 302
    assert seat_map.seats.count() == 15
    # once a seat is sold the layout can no longer change
    sell_ticket(seat_map.seats.first())
    refused = organizer_client.post(url, form | {"sections": "stalls | Stalls | 4 | 5"})
    assert refused.status_code == 200
    assert "cannot be regenerated" in refused.content.decode()
    assert seat_map.seats.count() == 15


def test_uploading_an_svg_shows_the_preview_and_the_report(organizer_client, venue):
    svg = stadium_svg(120).replace(
        "<title>Demo stadium</title>",
        '<title>Demo stadium</title><script>alert(1)</script><circle data-seat="" r="1"/>',
    )
    response = organizer_client.post(
        ADD_URL + "?kind=svg",
        {
            "venue": venue.pk,
            "name": "Bowl",
            "svg_file": SimpleUploadedFile("bowl.svg", svg.encode(), "image/svg+xml"),
        },
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    seat_map = SeatMap.objects.get(name="Bowl")
    assert seat_map.kind == "svg"
    assert seat_map.seats.count() == 120
    page = organizer_client.get(response["Location"]).content.decode()
    assert page.count("data-seat-id=") == 120
    assert "<script>alert" not in page
    assert "Elements removed: script (1)" in page
    assert "empty data-seat" in page
    assert "120 seats in 8 sections; 1 elements could not be read." in page


def test_an_unusable_svg_is_refused_on_the_form(organizer_client, venue):
    doctype = b'<?xml version="1.0"?><!DOCTYPE svg [<!ENTITY a "x">]><svg>&a;</svg>'
    response = organizer_client.post(
        ADD_URL + "?kind=svg",
        {
            "venue": venue.pk,
            "name": "Evil",
            "svg_file": SimpleUploadedFile("evil.svg", doctype, "image/svg+xml"),
        },
    )
    assert response.status_code == 200
    assert "DTD or entities" in response.content.decode()
    assert not SeatMap.objects.filter(name="Evil").exists()


def test_renaming_a_section_bumps_the_map_revision(organizer_client, olga, venue):
    seat_map = services.create_procedural_map(venue, "Hall", small_theatre(), olga)
    section = seat_map.sections.get()
    revision = seat_map.revision
    response = organizer_client.post(
        f"/admin/seatmaps/section/{section.pk}/change/", {"name": "Parterre", "position": "3"}
    )
    assert response.status_code == 302
    seat_map.refresh_from_db()
    assert seat_map.revision > revision
    assert Section.objects.get(pk=section.pk).name == "Parterre"


def test_price_categories_offer_only_the_events_sections(venue, django_user_model):
    admin_user = django_user_model.objects.create_superuser("root", "root@example.com", "pw")
    client = Client()
    client.force_login(admin_user)
    mine = services.create_procedural_map(venue, "Hall", small_theatre())
    other = services.create_procedural_map(venue, "Other", small_theatre())
    event = make_event(mine)
    page = client.get(f"/admin/ticketing/event/{event.pk}/change/").content.decode()
    assert f'value="{mine.sections.get().pk}"' in page
    assert f'value="{other.sections.get().pk}"' not in page
    assert "Hall: Stalls (stalls)" in page
    assert f"/events/{event.pk}/" in page  # "View on site" opens the buyer page
