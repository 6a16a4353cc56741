"""Creating, regenerating and importing maps; regeneration refused once seats are sold."""

import pytest
from seatmap_helpers import make_event, sell_ticket, small_theatre

from seatmaps import services
from seatmaps.demo import stadium_svg, theatre_params
from seatmaps.generator import LayoutParams, SectionSpec
from seatmaps.models import Seat, SeatMap
from shared.exceptions import BusinessRuleViolation

pytestmark = pytest.mark.django_db


def test_a_procedural_map_is_created_with_its_sections_and_seats(venue):
    # given the demo theatre's parameters
    params = theatre_params()
    # when the map is created
    seat_map = services.create_procedural_map(venue, "Main hall", params)
    # then it stores the parameters, its size, three sections in order and every seat
    assert seat_map.kind == SeatMap.Kind.PROCEDURAL
    assert LayoutParams.from_json(seat_map.source) == params
    assert seat_map.width > 0 and seat_map.height > 0
    sections = list(seat_map.sections.values_list("code", "position"))
    assert sections == [("stalls-front", 0), ("stalls-back", 1), ("balcony", 2)]
    assert seat_map.seats.count() == 588
    seat = seat_map.seats.get(section__code="stalls-back", row_label="K", number="12")
    assert seat.label == "Back stalls Row K Seat 12"
    assert seat_map.revision == 1


def test_regenerating_replaces_seats_and_keeps_sections_by_code(venue):
    # given a map with no sales whose section is mapped to a draft event's price category
    seat_map = services.create_procedural_map(venue, "Hall", small_theatre(rows=2, seats=3))
    stalls = seat_map.sections.get(code="stalls")
    category = make_event(seat_map, status="draft").price_categories.get()
    category.sections.add(stalls)
    # when it is regenerated with more rows and a balcony
    params = LayoutParams(
        sections=(
            SectionSpec("stalls", "Stalls", rows=4, seats_per_row=3),
            SectionSpec("balcony", "Balcony", rows=1, seats_per_row=5),
        )
    )
    services.regenerate_procedural_map(seat_map, params)
    # then the seats follow the new layout, the stalls section is the same row (its price
    # category still applies) and the map's revision moved on
    assert seat_map.seats.count() == 17
    assert seat_map.sections.get(code="stalls").pk == stalls.pk
    assert list(category.sections.all()) == [stalls]
    assert LayoutParams.from_json(seat_map.source) == params
    assert seat_map.revision == 2


@pytest.mark.parametrize("status", ["on_sale", "closed"])
def test_a_map_of_a_published_event_cannot_be_regenerated_even_before_a_sale(venue, status):
    # given a map whose seats buyers of a published event may be holding right now
    seat_map = services.create_procedural_map(venue, "Hall", small_theatre(rows=2, seats=3))
    make_event(seat_map, status=status).price_categories.get().sections.add(seat_map.sections.get())
    seats_before = list(seat_map.seats.values_list("pk", flat=True))
    # when the organizer regenerates it, it is refused and the seats stay as they were
    with pytest.raises(BusinessRuleViolation) as refused:
        services.regenerate_procedural_map(seat_map, small_theatre(rows=5, seats=5))
    assert refused.value.code == "seat_map_in_use"
    assert list(seat_map.seats.values_list("pk", flat=True)) == seats_before


@pytest.mark.parametrize("status", ["valid", "used"])
def test_regenerating_is_refused_once_a_seat_is_sold(venue, status):
    # given a map with one seat sold
    seat_map = services.create_procedural_map(venue, "Hall", small_theatre(rows=2, seats=3))
    sell_ticket(seat_map.seats.first(), status=status)
    seats_before = list(seat_map.seats.values_list("pk", flat=True))
    # when the organizer regenerates it
    with pytest.raises(BusinessRuleViolation) as refused:
        services.regenerate_procedural_map(seat_map, small_theatre(rows=5, seats=5))
    # then it is refused with a message saying why, and nothing changed
    assert refused.value.code == "seat_map_has_sales"
    assert "1 of its seats have been sold" in refused.value.message
    assert list(seat_map.seats.values_list("pk", flat=True)) == seats_before
    seat_map.refresh_from_db()
    assert LayoutParams.from_json(seat_map.source) == small_theatre(rows=2, seats=3)


def test_regenerating_is_refused_while_cancelled_tickets_refer_to_seats(venue):
    # given a map whose only ticket was cancelled
    seat_map = services.create_procedural_map(venue, "Hall", small_theatre())
    sell_ticket(seat_map.seats.first(), status="cancelled")
    # when it is regenerated
    # then it is refused: the ticket's history needs its seat
    with pytest.raises(BusinessRuleViolation) as refused:
        services.regenerate_procedural_map(seat_map, small_theatre(rows=1))
    assert refused.value.code == "seat_map_has_tickets"


def test_invalid_parameters_are_a_business_rule_violation(venue):
    # given parameters with an aisle beyond the row
    section = SectionSpec("s", "Stalls", rows=1, seats_per_row=4, aisles_after=(9,))
    # when a map is created from them
    # then the organizer gets the generator's message and no map exists
    with pytest.raises(BusinessRuleViolation, match="aisles_after") as refused:
        services.create_procedural_map(venue, "Hall", LayoutParams(sections=(section,)))
    assert refused.value.code == "invalid_layout"
    assert not SeatMap.objects.exists()


def test_an_svg_map_is_imported_with_its_report(venue):
    # given the demo stadium with a script slipped in
    upload = stadium_svg(600).replace("<title>", "<script>alert(1)</script><title>", 1)
    # when it is imported
    seat_map, report = services.import_svg_map(venue, "Stadium", upload.encode())
    # then the map stores the sanitized SVG, the seats with their element ids, and the report
    assert seat_map.kind == SeatMap.Kind.SVG
    assert "<script" not in seat_map.source
    assert seat_map.seats.count() == 600
    assert seat_map.sections.count() == 8
    seat = seat_map.seats.get(section__code="E", row_label="2", number="3")
    assert seat.svg_id == "seat-E-2-3" and f'id="{seat.svg_id}"' in seat_map.source
    assert report["removed_elements"] == {"script": 1}
    assert SeatMap.objects.get(pk=seat_map.pk).report == report


def test_regenerating_an_svg_map_is_refused(venue):
    # given an imported SVG map
    seat_map, _ = services.import_svg_map(venue, "Stadium", stadium_svg(50).encode())
    # when someone tries to regenerate it from parameters
    # then it is refused
    with pytest.raises(BusinessRuleViolation, match="Only procedural maps"):
        services.regenerate_procedural_map(seat_map, small_theatre())


@pytest.mark.parametrize(
    ("upload", "reason"),
    [
        (
            b'<!DOCTYPE svg [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
            b'<svg xmlns="http://www.w3.org/2000/svg"><text>&x;</text></svg>',
            "dtd",
        ),
        (b'<svg xmlns="http://www.w3.org/2000/svg"><circle r="3"/></svg>', "no_seats"),
        (b"not xml at all", "malformed"),
    ],
)
def test_unusable_uploads_are_refused_without_creating_a_map(venue, upload, reason):
    # given an upload that is hostile, broken or has no seats
    # when it is imported
    with pytest.raises(BusinessRuleViolation) as refused:
        services.import_svg_map(venue, "Bad", upload)
    # then it is refused with the reason, and nothing was written
    assert refused.value.code == "svg_rejected"
    assert refused.value.details["reason"] == reason
    assert not SeatMap.objects.exists() and not Seat.objects.exists()
