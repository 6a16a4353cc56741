"""An uploaded SVG cannot take the ids of the page it is inlined in: every id of the rendered
map lives in the map's namespace, and the map's own references move with it."""

import re

import defusedxml.ElementTree as ET
import pytest
from seatmap_helpers import small_theatre

from seatmaps import services
from seatmaps.render import map_id_prefix, render_seat_map
from seatmaps.svg.sanitize import namespace_ids, parse_svg, sanitize_tree, serialize

LOCAL_URL = re.compile(r"url\(\s*['\"]?\s*#([^'\")\s]+)")
# Ids the buyer page and the admin read with getElementById.
PAGE_IDS = {"event-config", "seat-geometry", "hold-button", "ticket-link", "seatmap", "main"}

# The attack: the page's own ids on a gradient, a clip path, a symbol, a text carrying JSON and
# a seat, plus a seat whose derived id ("seat-" + data-seat) is "seat-geometry".
CLOBBERING_SVG = """\
<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink"
     viewBox="0 0 300 100" id="seatmap">
  <defs>
    <linearGradient id="event-config"><stop offset="0" stop-color="#f00"/></linearGradient>
    <clipPath id="main"><rect width="300" height="100"/></clipPath>
    <symbol id="ticket-link"><rect width="8" height="8"/></symbol>
  </defs>
  <text id="hold-button">{"api": {"holds": "https://evil.example/steal"}}</text>
  <use xlink:href="#ticket-link" x="200" y="60"/>
  <g data-section="A" clip-path="url(#main)" fill="url('#event-config')"
     style="stroke: url(&quot;#event-config&quot;); stroke-width: 1">
    <circle id="hold-button-2" data-seat="A-1-1" cx="10" cy="10" r="4"/>
    <circle data-seat="geometry" data-row="1" data-number="2" cx="30" cy="10" r="4"/>
    <circle data-seat="A-1-3" cx="50" cy="10" r="4"/>
  </g>
</svg>
"""


def ids_and_references(svg_text: str) -> tuple[list[str], list[str]]:
    root = ET.fromstring(svg_text)
    ids, references = [], []
    for element in root.iter():
        for name, value in element.attrib.items():
            if name == "id":
                ids.append(value)
            elif name in ("href", "{http://www.w3.org/1999/xlink}href"):
                references.append(value.removeprefix("#"))
            else:
                references.extend(LOCAL_URL.findall(value))
    return ids, references


def test_namespacing_prefixes_ids_and_every_kind_of_local_reference():
    # given the clobbering upload, sanitized
    root = parse_svg(CLOBBERING_SVG)
    sanitize_tree(root)
    # when its ids are namespaced
    namespace_ids(root, "map7-")
    ids, references = ids_and_references(serialize(root))
    # then every id is inside the namespace, and href, url(#x), url('#x') and url("#x") in
    # attributes and style still point at ids of the map
    assert ids and all(i.startswith("map7-") for i in ids)
    assert set(references) == {"map7-ticket-link", "map7-main", "map7-event-config"}
    assert len(references) == 4
    assert set(references) <= set(ids)


@pytest.mark.django_db
def test_a_rendered_upload_has_no_id_of_the_page_and_its_seats_keep_their_rows(venue):
    # given an organizer's upload that uses the page's ids
    seat_map, report = services.import_svg_map(venue, "Clobber", CLOBBERING_SVG.encode())
    assert report["seats"] == 3
    prefix = map_id_prefix(seat_map.pk)
    # when it is rendered for the buyer page and the admin preview
    svg = render_seat_map(seat_map)
    # then no id of the page is left, every id is in the map's namespace...
    ids, references = ids_and_references(svg)
    assert not PAGE_IDS & set(ids)
    assert all(i.startswith(prefix) for i in ids), ids
    # ...the map's own references (use, clip path, gradient fills) still resolve inside it
    assert references and set(references) <= set(ids)
    # ...and each seat element still carries the primary key of its Seat row
    root = ET.fromstring(svg)
    by_id = {el.get("id"): el for el in root.iter() if el.get("id")}
    for seat in seat_map.seats.all():
        assert by_id[prefix + seat.svg_id].get("data-seat-id") == str(seat.pk)
    svg_ids = {seat.svg_id for seat in seat_map.seats.all()}
    assert svg_ids == {"hold-button-2", "seat-geometry", "seat-A-1-3"}


@pytest.mark.django_db
def test_maps_stored_before_namespacing_are_namespaced_when_rendered(venue):
    # given a map whose stored SVG was written by the old importer (ids as the author gave)
    seat_map, _ = services.import_svg_map(venue, "Old", CLOBBERING_SVG.encode())
    assert 'id="event-config"' in seat_map.source
    # when it is rendered
    svg = render_seat_map(seat_map)
    # then the page's ids are gone from the output although the stored text still has them
    assert 'id="event-config"' not in svg
    assert f'id="{map_id_prefix(seat_map.pk)}event-config"' in svg


@pytest.mark.django_db
def test_procedural_maps_carry_no_ids_at_all(venue):
    # given a generated theatre
    seat_map = services.create_procedural_map(venue, "Hall", small_theatre(rows=2, seats=3))
    # when it is rendered
    svg = render_seat_map(seat_map)
    # then seats are found by data-seat-id alone: there is no id that could meet the page's
    assert svg.count("data-seat-id=") == 6
    assert ids_and_references(svg) == ([], [])
