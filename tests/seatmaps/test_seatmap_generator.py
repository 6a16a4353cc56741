"""The procedural generator: labels, numbering, aisles, coordinates, curvature, JSON."""

import itertools
import math

import pytest
from seatmap_helpers import small_theatre

from seatmaps.generator import (
    ODD_EVEN_FROM_CENTRE,
    ROW_NUMBERS,
    InvalidLayout,
    LayoutParams,
    SectionSpec,
    generate,
    row_label,
    seat_numbers,
)


def seats_of_row(layout, row, section=None):
    """The seats of one row, left to right."""
    seats = [
        s
        for s in layout.seats
        if s.row_label == row and (section is None or s.section_code == section)
    ]
    return sorted(seats, key=lambda s: s.x)


def test_letter_labels_continue_with_double_letters_after_z():
    # given the letter scheme
    # when rows 1, 26, 27, 28, 52, 53 and 703 are labelled
    labels = [row_label(i) for i in (1, 26, 27, 28, 52, 53, 703)]
    # then Z is followed by AA, AB, ..., AZ, BA, and ZZ by AAA
    assert labels == ["A", "Z", "AA", "AB", "AZ", "BA", "AAA"]


def test_a_generated_layout_with_30_rows_labels_rows_27_and_28_aa_and_ab():
    # given a section of 30 rows
    layout = generate(small_theatre(rows=30, seats=2))
    # when we list its row labels in order
    labels = list(dict.fromkeys(s.row_label for s in layout.seats))
    # then they run A..Z then AA, AB, AC, AD
    assert labels[:3] == ["A", "B", "C"]
    assert labels[25:] == ["Z", "AA", "AB", "AC", "AD"]


def test_skipped_letters_are_left_out_of_labels():
    # given rows labelled without I and O
    # when rows 8 to 10 and 14 to 16 are labelled
    labels = [row_label(i, skip_letters="IO") for i in (8, 9, 10, 14, 15, 16)]
    # then I and O never appear
    assert labels == ["H", "J", "K", "P", "Q", "R"]


def test_numeric_row_labels():
    # given the numeric scheme
    layout = generate(small_theatre(rows=3, seats=2, row_labels=ROW_NUMBERS))
    # when the seats are generated
    # then rows are 1, 2, 3 and labels read "Stalls Row 2 Seat 1"
    assert list(dict.fromkeys(s.row_label for s in layout.seats)) == ["1", "2", "3"]
    assert seats_of_row(layout, "2")[0].label == "Stalls Row 2 Seat 1"


def test_left_to_right_numbering_and_labels():
    # given the default numbering
    layout = generate(small_theatre(rows=3, seats=4))
    # when we read row C from left to right
    row = seats_of_row(layout, "C")
    # then the seats are 1 to 4 and each label names section, row and seat
    assert [s.number for s in row] == ["1", "2", "3", "4"]
    assert row[2].label == "Stalls Row C Seat 3"
    assert len(layout.seats) == 12


@pytest.mark.parametrize(
    ("count", "expected"),
    [
        (6, [6, 4, 2, 1, 3, 5]),
        (5, [4, 2, 1, 3, 5]),
        (1, [1]),
    ],
)
def test_odd_even_numbering_starts_at_the_centre(count, expected):
    # given the European odd/even scheme
    # when a row of ``count`` seats is numbered left to right
    # then 1 is just right of the centre, odd numbers go right and even numbers go left
    assert seat_numbers(count, ODD_EVEN_FROM_CENTRE) == expected


def test_odd_even_numbering_in_a_generated_row():
    # given a row of 8 seats numbered odd/even from the centre
    layout = generate(small_theatre(rows=1, seats=8, numbering=ODD_EVEN_FROM_CENTRE))
    # when we read it from left to right
    numbers = [int(s.number) for s in seats_of_row(layout, "A")]
    # then even numbers fall on the left half and odd numbers on the right
    assert numbers == [8, 6, 4, 2, 1, 3, 5, 7]


def test_seats_are_spaced_evenly_and_rows_go_down_the_page():
    # given straight rows with 30 units between seats and 34 between rows
    layout = generate(small_theatre(rows=2, seats=3, seat_spacing=30, row_spacing=34))
    # when the seats are placed
    row_a, row_b = seats_of_row(layout, "A"), seats_of_row(layout, "B")
    # then neighbours are one seat_spacing apart on a common y, and row B is one row lower
    assert [b.x - a.x for a, b in itertools.pairwise(row_a)] == [30, 30]
    assert {s.y for s in row_a} == {row_a[0].y}
    assert row_b[0].y - row_a[0].y == 34
    # and the map fits every seat inside its margins, the stage above the first row
    assert min(s.x for s in layout.seats) == 40
    assert layout.width == 40 + 60 + 40
    assert row_a[0].y == 40 + 60


def test_aisles_open_a_gap_after_the_given_seats():
    # given a row of 10 seats with aisles after seats 3 and 7, aisles 50 units wide
    section = SectionSpec("s", "Stalls", rows=1, seats_per_row=10, aisles_after=(3, 7))
    layout = generate(LayoutParams(sections=(section,), seat_spacing=30, aisle_width=50))
    # when we measure the gaps between neighbours
    row = seats_of_row(layout, "A")
    gaps = [round(b.x - a.x, 1) for a, b in itertools.pairwise(row)]
    # then the gaps after the 3rd and 7th seats are wider by the aisle
    assert gaps == [30, 30, 80, 30, 30, 30, 80, 30, 30]


def test_shorter_rows_stay_centred_and_keep_the_aisles_aligned():
    # given rows of 6 and 10 seats, aisles after seats 3 and 7 of the widest row
    section = SectionSpec("s", "Stalls", rows=2, seats_per_row=(6, 10), aisles_after=(3, 7))
    layout = generate(LayoutParams(sections=(section,), seat_spacing=30, aisle_width=50))
    # when both rows are placed
    short, wide = seats_of_row(layout, "A"), seats_of_row(layout, "B")
    # then the short row sits on the middle six columns of the wide one
    assert [s.x for s in short] == [s.x for s in wide[2:8]]
    assert len(short) == 6 and len(wide) == 10


def test_sections_follow_each_other_with_a_gap_and_an_x_offset():
    # given a stalls block and a balcony shifted 100 units right, 50 units between them
    params = LayoutParams(
        sections=(
            SectionSpec("stalls", "Stalls", rows=2, seats_per_row=4),
            SectionSpec("balcony", "Balcony", rows=1, seats_per_row=4, x_offset=100),
        ),
        row_spacing=34,
        section_gap=50,
    )
    # when the layout is generated
    layout = generate(params)
    stalls_b = seats_of_row(layout, "B", "stalls")
    balcony_a = seats_of_row(layout, "A", "balcony")
    # then the balcony starts one row plus the gap below the last stalls row, shifted right
    assert balcony_a[0].y - stalls_b[0].y == 34 + 50
    assert balcony_a[0].x - stalls_b[0].x == 100
    # and each section keeps its own labels and its order as its position
    assert balcony_a[0].label == "Balcony Row A Seat 1"
    assert [(s.code, s.position) for s in layout.sections] == [("stalls", 0), ("balcony", 1)]


def test_curved_rows_bend_towards_the_stage():
    # given a wide row bent on an arc of radius 300
    layout = generate(small_theatre(rows=2, seats=9, curve_radius=300))
    row = seats_of_row(layout, "A")
    middle = row[4]
    # when we compare the ends of the row with its middle
    # then the ends are higher up (nearer the stage) and the row is symmetric
    assert row[0].y < middle.y and row[-1].y < middle.y
    assert row[0].y == pytest.approx(row[-1].y, abs=0.1)
    assert middle.x - row[0].x == pytest.approx(row[-1].x - middle.x, abs=0.1)
    # and every seat of row A is on a circle around a point 300 units in front of it
    centre_x, centre_y = middle.x, middle.y - 300
    for seat in row:
        assert math.dist((seat.x, seat.y), (centre_x, centre_y)) == pytest.approx(300, abs=0.2)
    # and neighbours are still one seat spacing apart along the arc
    assert math.dist((row[0].x, row[0].y), (row[1].x, row[1].y)) == pytest.approx(30, abs=0.2)


def test_straight_rows_have_one_y_per_row():
    # given no curvature
    layout = generate(small_theatre(rows=2, seats=9))
    # when we collect the y of each row
    # then each row is a horizontal line
    assert len({s.y for s in seats_of_row(layout, "A")}) == 1


def test_parameters_round_trip_through_json():
    # given parameters with every kind of field
    params = LayoutParams(
        sections=(
            SectionSpec("a", "Stalls", rows=2, seats_per_row=(4, 6), aisles_after=(2,)),
            SectionSpec("b", "Balcony", rows=1, seats_per_row=5, first_row=3, position=7),
        ),
        row_labels=ROW_NUMBERS,
        numbering=ODD_EVEN_FROM_CENTRE,
        curve_radius=500,
        skip_letters="I",
    )
    # when they are stored as JSON and read back
    restored = LayoutParams.from_json(params.to_json())
    # then nothing is lost
    assert restored == params
    assert generate(restored) == generate(params)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{"sections": []}', "at least one section"),
        ('{"sections": [{"code": "a", "name": "A", "rows": 2, "seats_per_row": [3]}]}', "rows"),
        ('{"sections": [{"code": "a", "name": "A", "rows": 1, "seats_per_row": 0}]}', "seat"),
        (
            '{"sections": [{"code": "a", "name": "A", "rows": 1, "seats_per_row": 4, '
            '"aisles_after": [4]}]}',
            "aisles_after",
        ),
        ('{"sections": [{"code": "a", "name": "A", "rows": 1, "seats": 4}]}', "Unknown"),
        ('{"sections": [], "colour": "red"}', "Unknown"),
        (
            '{"sections": [{"code": "a", "name": "A", "rows": 1, "seats_per_row": 4}], '
            '"seat_spacing": Infinity}',
            "finite",
        ),
        ('{"sections": [{"code": "a", "name": "A", "rows": "two", "seats_per_row": 4}]}', "type"),
        ("[1, 2]", "object"),
        ("{nope", "JSON"),
    ],
)
def test_invalid_parameters_are_refused_with_a_message(text, message):
    # given parameters an organizer got wrong
    # when they are read
    # then InvalidLayout says what is wrong
    with pytest.raises(InvalidLayout, match=message):
        LayoutParams.from_json(text)


def test_duplicate_section_codes_are_refused():
    # given two sections with the same code
    section = SectionSpec("a", "Stalls", rows=1, seats_per_row=2)
    # when the layout is generated
    # then it is refused
    with pytest.raises(InvalidLayout, match="unique"):
        generate(LayoutParams(sections=(section, section)))
