"""Reading seats out of SVG uploads: the demo stadium, and files with problems."""

import pytest

from seatmaps.demo import STADIUM_SECTIONS, stadium_svg
from seatmaps.svg import import_svg, split_seat_value

SVG_OPEN = '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 500 400">'


def svg(body: str) -> bytes:
    return f"{SVG_OPEN}{body}</svg>".encode()


def by_key(result):
    return {(s.section_code, s.row_label, s.number): s for s in result.seats}


def test_the_demo_stadium_imports_every_seat():
    # given the demo stadium with 2,400 seats in 8 stands
    upload = stadium_svg(2400).encode()
    # when it is imported
    result = import_svg(upload)
    # then every seat is read, in its stand, with nothing removed or reported
    assert len(result.seats) == 2400
    assert [(s.code, s.name) for s in result.sections] == list(STADIUM_SECTIONS)
    assert [s.position for s in result.sections] == list(range(8))
    assert result.report["problem_count"] == 0
    assert result.report["removed_elements"] == {} and result.report["removed_attributes"] == {}
    # and seats spread evenly over the stands, inside the drawing
    per_section = {code: 0 for code, _ in STADIUM_SECTIONS}
    for seat in result.seats:
        per_section[seat.section_code] += 1
        assert 0 < seat.x < result.width and 0 < seat.y < result.height
    assert set(per_section.values()) == {300}


def test_stadium_seats_take_their_ids_labels_and_centres():
    # given the demo stadium
    result = import_svg(stadium_svg(2400).encode())
    # when we look up North stand, row 10, seat 12
    seat = by_key(result)[("N", "10", "12")]
    # then it got a stable id written into the SVG, a label and its circle's centre
    assert seat.svg_id == "seat-N-10-12"
    assert f'id="{seat.svg_id}"' in result.svg
    assert seat.label == "North stand Row 10 Seat 12"
    assert f'cx="{seat.x:.1f}" cy="{seat.y:.1f}"' in result.svg


def test_the_stadium_generator_gives_exactly_the_requested_seats():
    # given a few odd seat counts and stand lists
    # when stadiums are drawn
    # then each has exactly that many seats
    for count, sections in (
        (1, STADIUM_SECTIONS),
        (997, STADIUM_SECTIONS[:3]),
        (5000, [("A", "A")]),
    ):
        result = import_svg(stadium_svg(count, sections).encode())
        assert len(result.seats) == count


def test_sections_come_from_the_enclosing_group_and_rows_from_the_seat_value():
    # given seats inside <g data-section>, one overriding its section, one without data-row
    upload = svg(
        '<g data-section="B1" data-section-name="Block 1">'
        '<circle data-seat="B1-C-7" cx="10" cy="20" r="4"/>'
        '<circle data-seat="x" data-section="VIP" data-row="1" data-number="2" r="1"/>'
        "</g>"
    )
    # when it is imported
    seats = by_key(import_svg(upload))
    # then the group gives the section, data-seat gives row and number, data-* win when present
    assert seats[("B1", "C", "7")].label == "Block 1 Row C Seat 7"
    assert ("VIP", "1", "2") in seats


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("N1-12-7", ("N1", "12", "7")),
        ("12_7", (None, "12", "7")),
        ("C12", (None, "C", "12")),
        ("7", (None, None, "7")),
        ("Upper:N1:3:4", ("Upper-N1", "3", "4")),
    ],
)
def test_seat_values_are_split_into_section_row_and_number(value, expected):
    # given a data-seat value in one of the usual shapes
    # when it is split
    # then section, row and number come out
    assert split_seat_value(value) == expected


def test_coordinates_follow_shapes_and_transforms():
    # given seats drawn as different shapes, some inside transformed groups
    upload = svg(
        '<g data-section="S">'
        '<rect data-seat="S-A-1" x="10" y="20" width="10" height="6"/>'
        '<ellipse data-seat="S-A-2" cx="40" cy="23" rx="5" ry="3"/>'
        '<path data-seat="S-A-3" d="M50 20 h10 v6 h-10 z"/>'
        '<polygon data-seat="S-A-4" points="70,20 80,20 80,26 70,26"/>'
        '<g transform="translate(100 0) scale(2)">'
        '<circle data-seat="S-B-1" cx="5" cy="10" r="2"/>'
        "</g>"
        '<g transform="rotate(90 200 200)"><circle data-seat="S-B-2" cx="250" cy="200" r="2"/></g>'
        '<g data-seat="S-B-3" transform="translate(0 100)">'
        '<rect x="0" y="0" width="10" height="10"/><rect x="20" y="0" width="10" height="10"/>'
        "</g>"
        "</g>"
    )
    # when it is imported
    seats = by_key(import_svg(upload))
    # then each seat sits at the centre of its shape, in the root's coordinates
    position = {key[1] + key[2]: (s.x, s.y) for key, s in seats.items()}
    assert position == {
        "A1": (15.0, 23.0),
        "A2": (40.0, 23.0),
        "A3": (55.0, 23.0),
        "A4": (75.0, 23.0),
        "B1": (110.0, 20.0),
        "B2": (200.0, 250.0),
        "B3": (15.0, 105.0),
    }


def test_unreadable_elements_are_reported_and_the_rest_imported():
    # given a file with a duplicate seat, an empty data-seat, bad coordinates, a
    # number without data-seat and a position taken twice
    upload = svg(
        '<circle data-seat="A-1" cx="1" cy="1" r="1"/>'
        '<circle data-seat="A-1" cx="2" cy="2" r="1"/>'
        '<circle data-seat="" cx="3" cy="3" r="1"/>'
        '<circle data-seat="A-2" cx="50%" cy="3" r="1"/>'
        '<path data-seat="A-3" d="not a path"/>'
        '<g transform="wobble(3)"><circle data-seat="A-4" r="1"/></g>'
        '<circle data-number="5" cx="3" cy="3" r="1"/>'
        '<circle data-seat="other" data-row="A" data-number="1" cx="9" cy="9" r="1"/>'
        '<circle data-seat="A-6" cx="6" cy="6" r="1"/>'
    )
    # when it is imported
    result = import_svg(upload)
    # then the readable seats are there and each problem is listed with its reason
    assert sorted(s.number for s in result.seats) == ["1", "6"]
    reasons = [(p["data_seat"], p["reason"]) for p in result.report["problems"]]
    assert reasons == [
        ("A-1", "duplicate data-seat"),
        ("", "empty data-seat"),
        ("A-2", "coordinates cannot be read"),
        ("A-3", "coordinates cannot be read"),
        ("A-4", "coordinates cannot be read"),
        ("", "data-number without data-seat"),
        ("other", "another seat is already main row A 1"),
    ]
    assert result.report["problem_count"] == 7


def test_ids_are_kept_when_unique_and_assigned_when_missing_or_shared():
    # given one seat with its own id, two sharing an id, one without, and an element that
    # already uses the id the importer would derive
    upload = svg(
        '<rect id="seat-A-4" width="1" height="1"/>'
        '<circle id="mine" data-seat="A-1" r="1"/>'
        '<circle id="twin" data-seat="A-2" r="1"/>'
        '<circle id="twin" data-seat="A-3" r="1"/>'
        '<circle data-seat="A-4" r="1"/>'
    )
    # when it is imported
    result = import_svg(upload)
    ids = {s.number: s.svg_id for s in result.seats}
    # then ids are unique, stable and written into the stored SVG
    assert ids == {"1": "mine", "2": "seat-A-2", "3": "seat-A-3", "4": "seat-A-4-2"}
    for svg_id in ids.values():
        assert result.svg.count(f'id="{svg_id}"') == 1
    # and importing the same file again gives the same ids
    assert [s.svg_id for s in import_svg(upload).seats] == [s.svg_id for s in result.seats]


def test_the_root_keeps_a_viewbox_and_loses_its_fixed_size():
    # given a drawing sized by width and height only
    upload = (
        b'<svg xmlns="http://www.w3.org/2000/svg" width="300px" height="200">'
        b'<circle data-seat="A-1" cx="1" cy="1" r="1"/></svg>'
    )
    # when it is imported
    result = import_svg(upload)
    # then the map is 300 x 200 and the page can scale it
    assert (result.width, result.height) == (300, 200)
    assert result.svg.startswith('<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 300 200">')


def test_accessible_seats_are_flagged():
    # given a wheelchair space marked data-accessible
    upload = svg('<rect data-seat="W-1" data-accessible="true" width="2" height="2"/>')
    # when it is imported
    # then the seat is accessible
    assert import_svg(upload).seats[0].accessible is True
