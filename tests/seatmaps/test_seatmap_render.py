"""Rendering maps for the buyer page and the API payload: ids, one query, caching, size."""

import re
import time

import pytest
from seatmap_helpers import small_theatre

from seatmaps import services
from seatmaps.demo import stadium_svg, theatre_params
from seatmaps.generator import LayoutParams, SectionSpec
from seatmaps.render import (
    SEAT_FIELDS,
    map_id_prefix,
    render_preview,
    render_seat_map,
    seat_map_payload,
)
from seatmaps.svg import sanitize_svg

pytestmark = pytest.mark.django_db

SEAT_ID = re.compile(r'data-seat-id="(\d+)"')


def test_a_procedural_map_draws_one_identified_circle_per_seat(venue):
    # given the demo theatre
    seat_map = services.create_procedural_map(venue, "Hall", theatre_params())
    # when it is rendered
    svg = render_seat_map(seat_map)
    # then each seat is a circle carrying its primary key, section, row and number
    pks = set(seat_map.seats.values_list("pk", flat=True))
    assert {int(pk) for pk in SEAT_ID.findall(svg)} == pks
    seat = seat_map.seats.get(section__code="balcony", row_label="B", number="4")
    assert (
        f'<circle class="seat" data-seat-id="{seat.pk}" '
        f'data-section="balcony" data-row="B" data-number="4" cx="{seat.x:g}" cy="{seat.y:g}"'
    ) in svg
    # and rows are labelled at both ends, the stage is drawn, and the SVG is well-formed
    assert svg.count(">K</text>") == 2
    assert "Stage" in svg
    sanitize_svg(svg)  # parses: raises on malformed XML


def test_rendering_takes_one_query_for_the_seats_and_none_once_cached(
    venue, django_assert_num_queries
):
    # given a procedural map and an SVG map
    theatre = services.create_procedural_map(venue, "Hall", small_theatre(rows=5, seats=10))
    stadium, _ = services.import_svg_map(venue, "Stadium", stadium_svg(300).encode())
    # when each is rendered twice
    # then the first rendering reads the sections and all seats at once, the second none
    with django_assert_num_queries(2):
        render_seat_map(theatre)
    with django_assert_num_queries(1):
        render_seat_map(stadium)
    with django_assert_num_queries(0):
        render_seat_map(theatre)
        render_seat_map(stadium)


def test_an_svg_map_reuses_the_sanitized_svg_with_seat_ids(venue):
    # given an imported stadium
    seat_map, _ = services.import_svg_map(venue, "Stadium", stadium_svg(400).encode())
    # when it is rendered
    svg = render_seat_map(seat_map)
    # then it is the stored SVG with its ids in the map's namespace, each seat element now
    # carrying its seat's primary key
    prefix = map_id_prefix(seat_map.pk)
    namespaced = seat_map.source.replace(' id="', f' id="{prefix}')
    assert re.sub(r' data-seat-id="\d+"', "", svg) == namespaced
    for seat in seat_map.seats.all()[:50]:
        assert re.search(f' id="{prefix}{seat.svg_id}"[^<>]* data-seat-id="{seat.pk}"', svg)
    assert len(SEAT_ID.findall(svg)) == 400


def test_labels_with_markup_are_escaped(venue):
    # given a section whose name and code an organizer typed with quotes and brackets
    section = SectionSpec('x"><script>', "<b>VIP</b>", rows=1, seats_per_row=2)
    seat_map = services.create_procedural_map(venue, "Hall", LayoutParams(sections=(section,)))
    # when it is rendered
    svg = render_seat_map(seat_map)
    # then nothing breaks out of its attribute
    assert "<script>" not in svg and "<b>" not in svg
    assert 'data-section="x&quot;&gt;&lt;script&gt;"' in svg


def test_the_payload_lists_every_seat_compactly(venue):
    # given the demo theatre
    seat_map = services.create_procedural_map(venue, "Hall", theatre_params())
    # when its payload is built
    payload = seat_map_payload(seat_map)
    # then it names the fields once and gives one list per seat
    assert payload["seat_fields"] == list(SEAT_FIELDS)
    assert len(payload["seats"]) == 588
    seat = seat_map.seats.get(section__code="stalls-front", row_label="A", number="1")
    row = dict(zip(SEAT_FIELDS, payload["seats"][0], strict=True))
    assert row == {
        "id": seat.pk,
        "section": "stalls-front",
        "row": "A",
        "number": "1",
        "label": "Front stalls Row A Seat 1",
        "x": seat.x,
        "y": seat.y,
    }
    assert [s["code"] for s in payload["sections"]] == ["stalls-front", "stalls-back", "balcony"]
    assert (payload["width"], payload["height"]) == (seat_map.width, seat_map.height)


def test_the_cache_follows_the_map_revision(venue, django_assert_num_queries):
    # given a payload and a rendering already cached
    seat_map = services.create_procedural_map(venue, "Hall", small_theatre(rows=2, seats=2))
    first_payload = seat_map_payload(seat_map)
    render_seat_map(seat_map)
    with django_assert_num_queries(0):
        assert seat_map_payload(seat_map) == first_payload
    # when the map is regenerated
    services.regenerate_procedural_map(seat_map, small_theatre(rows=3, seats=3))
    # then the next payload and rendering show the new seats
    assert len(seat_map_payload(seat_map)["seats"]) == 9
    assert len(SEAT_ID.findall(render_seat_map(seat_map))) == 9


def test_a_preview_draws_unsaved_parameters_without_seat_ids():
    # given parameters the organizer is still editing
    # when the preview is drawn
    svg = render_preview(small_theatre(rows=2, seats=3))
    # then the seats are there without database ids
    assert svg.count('<circle class="seat"') == 6
    assert "data-seat-id" not in svg


def test_a_20000_seat_stadium_renders_in_reasonable_time(venue):
    # given the demo stadium at 20,000 seats (a sanity bound; real figures go in `make bench`)
    seat_map, report = services.import_svg_map(venue, "Big", stadium_svg(20_000).encode())
    assert report["seats"] == 20_000
    # when it is rendered and its payload built, uncached
    started = time.perf_counter()
    svg = render_seat_map(seat_map)
    payload = seat_map_payload(seat_map)
    elapsed = time.perf_counter() - started
    # then every seat is there, well within a generous bound
    assert len(SEAT_ID.findall(svg)) == 20_000
    assert len(payload["seats"]) == 20_000
    assert elapsed < 5.0
