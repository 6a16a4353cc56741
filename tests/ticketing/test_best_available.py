"""Best available through the REST API: adjacent seats, best section, aisles, races, errors."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from seatmaps.generator import LayoutParams, SectionSpec
from seatmaps.models import Seat, Venue
from seatmaps.services import create_procedural_map
from tests.conftest import create_ga_event, create_seated_event, seat_ids
from ticketing.models import Event, PriceCategory
from ticketing.services import best_available
from ticketing.services.event_rules import publish_event_rules
from ticketing.services.holds import create_hold

pytestmark = pytest.mark.django_db


def best(client, event, quantity, category=None):
    body = (
        {"quantity": quantity} if category is None else {"quantity": quantity, "category": category}
    )
    return client.post(f"/api/v1/events/{event.pk}/holds/", {"best_available": body}, format="json")


def theatre_event(organizer, sections, **layout):
    """An on-sale event on a generated map, one price category per section (in order)."""
    venue = Venue.objects.create(name="Kammerspiele", city="Munich")
    seat_map = create_procedural_map(venue, "Hall", LayoutParams(sections=sections, **layout))
    now = timezone.now()
    event = Event.objects.create(
        organizer=organizer,
        title="Faust",
        slug=f"faust-{now.timestamp()}",
        venue=venue,
        seat_map=seat_map,
        starts_at=now + timedelta(days=5),
        ends_at=now + timedelta(days=5, hours=3),
        status=Event.Status.ON_SALE,
        max_seats_per_order=10,
    )
    for index, section in enumerate(seat_map.sections.order_by("position")):
        category = PriceCategory.objects.create(
            event=event, name=f"Category {index + 1}", price=Decimal(90 - 20 * index)
        )
        category.sections.add(section)
    publish_event_rules(event)
    return event


def seats_of(ids):
    by_id = {s.pk: s for s in Seat.objects.filter(pk__in=ids).select_related("section")}
    return [by_id[i] for i in ids]


def assert_adjacent(ids):
    seats = seats_of(ids)
    assert len({(s.section.code, s.row_label) for s in seats}) == 1, "one row of one section"
    numbers = sorted(int(s.number) for s in seats)
    assert numbers == list(range(numbers[0], numbers[0] + len(numbers))), numbers
    return seats


def test_it_holds_adjacent_seats_in_the_middle_of_the_row(client_for, organizer):
    # given one row of 9 seats
    event = create_seated_event(organizer, rows=1, seats_per_row=9)
    # when a buyer asks for the best 3
    response = best(client_for(), event, 3)
    # then the middle three are held (numbers 4, 5, 6)
    assert response.status_code == 201, response.content
    seats = assert_adjacent(response.json()["seats"])
    assert sorted(int(s.number) for s in seats) == [4, 5, 6]
    assert response.json()["quantity"] == 3


def test_it_prefers_the_best_section_and_its_centre(client_for, organizer):
    # given a balcony listed first in the file but ranked after the stalls
    event = theatre_event(
        organizer,
        (
            SectionSpec(code="balcony", name="Balcony", rows=2, seats_per_row=10, position=5),
            SectionSpec(code="stalls", name="Stalls", rows=5, seats_per_row=10, position=0),
        ),
    )
    # when the best 2 are held
    seats = assert_adjacent(best(client_for(), event, 2).json()["seats"])
    # then they are in the stalls, in the middle row (C of A-E), in the middle of the row
    assert {s.section.code for s in seats} == {"stalls"}
    assert {s.row_label for s in seats} == {"C"}
    assert sorted(int(s.number) for s in seats) in ([5, 6], [4, 5], [6, 7])


def test_a_block_never_spans_an_aisle(client_for, organizer):
    # given rows of 3 + 3 seats with a wide aisle in the middle
    event = theatre_event(
        organizer,
        (SectionSpec(code="stalls", name="Stalls", rows=1, seats_per_row=6, aisles_after=(3,)),),
        aisle_width=60.0,
    )
    # when 4 adjacent seats are asked for
    response = best(client_for(), event, 4)
    # then there are none (the row is 6 seats long, but no 4 of them are side by side)
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "no_adjacent_seats"
    # and 3 fit on either side of the aisle, never across it
    seats = assert_adjacent(best(client_for(), event, 3).json()["seats"])
    assert sorted(int(s.number) for s in seats) in ([1, 2, 3], [4, 5, 6])


def test_held_and_sold_seats_split_blocks(client_for, organizer, make_user):
    # given one row of 5 where seats 2 and 4 are held by someone else
    event = create_seated_event(organizer, rows=1, seats_per_row=5)
    ids = seat_ids(event)
    create_hold(user_id=make_user().pk, event_id=event.pk, seat_ids=[ids[1]])
    create_hold(user_id=make_user().pk, event_id=event.pk, seat_ids=[ids[3]])
    # when 2 adjacent seats are asked for, then there are none
    response = best(client_for(), event, 2)
    assert response.status_code == 409
    error = response.json()["error"]
    assert error["code"] == "no_adjacent_seats"
    assert error["details"] == {"quantity": 2, "category": None}
    # but a single seat is found
    assert best(client_for(), event, 1).status_code == 201


def test_the_category_chooses_the_section(client_for, organizer):
    # given front (90) and back (70) sections
    event = theatre_event(
        organizer,
        (
            SectionSpec(code="front", name="Front", rows=2, seats_per_row=6),
            SectionSpec(code="back", name="Back", rows=2, seats_per_row=6, position=1),
        ),
    )
    cheap = event.price_categories.get(name="Category 2")
    # when the cheaper category is asked for
    seats = assert_adjacent(best(client_for(), event, 2, cheap.pk).json()["seats"])
    # then the seats are in its section
    assert {s.section.code for s in seats} == {"back"}


def test_a_lost_race_moves_on_to_the_next_block(client_for, organizer, make_user, monkeypatch):
    # given a competitor who takes each block just before our hold reaches Redis, twice
    event = create_seated_event(organizer, rows=2, seats_per_row=6)
    rival = make_user()
    stolen = []

    def racing_hold(*, user_id, event_id, seat_ids=None, quantity=None):
        if len(stolen) < 2:
            create_hold(user_id=rival.pk, event_id=event_id, seat_ids=seat_ids)
            stolen.append(list(seat_ids))
        return create_hold(user_id=user_id, event_id=event_id, seat_ids=seat_ids, quantity=quantity)

    monkeypatch.setattr(best_available, "create_hold", racing_hold)
    # when the best 2 are asked for
    response = best(client_for(), event, 2)
    # then the third block tried is held: adjacent, and not overlapping what the rival took
    assert response.status_code == 201, response.content
    held = response.json()["seats"]
    assert_adjacent(held)
    assert len(stolen) == 2
    assert not set(held) & {s for block in stolen for s in block}


def test_it_gives_up_after_a_few_lost_races(client_for, organizer, make_user, monkeypatch):
    event = create_seated_event(organizer, rows=3, seats_per_row=10)
    rival = make_user()
    tries = []

    def always_lost(*, user_id, event_id, seat_ids=None, quantity=None):
        tries.append(seat_ids)
        create_hold(user_id=rival.pk, event_id=event_id, seat_ids=seat_ids)
        return create_hold(user_id=user_id, event_id=event_id, seat_ids=seat_ids)

    monkeypatch.setattr(best_available, "create_hold", always_lost)
    response = best(client_for(), event, 2)
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "seats_unavailable"
    assert len(tries) == best_available.MAX_ATTEMPTS


def test_general_admission_holds_a_quantity(client_for, organizer):
    event = create_ga_event(organizer, capacity=5)
    response = best(client_for(), event, 3)
    assert response.status_code == 201
    assert response.json()["quantity"] == 3
    assert response.json()["seats"] == []


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"best_available": {}}, 400, "validation_error"),
        ({"best_available": {"quantity": 0}}, 400, "validation_error"),
        ({"best_available": {"quantity": 2}, "seats": [1]}, 400, "validation_error"),
        ({"best_available": {"quantity": 2, "category": 999_999}}, 422, "unknown_category"),
        ({"best_available": {"quantity": 11}}, 422, "too_many_seats"),
    ],
)
def test_bad_requests(client_for, seated_event, body, status, code):
    response = client_for().post(f"/api/v1/events/{seated_event.pk}/holds/", body, format="json")
    assert response.status_code == status, response.content
    assert response.json()["error"]["code"] == code


def test_rows_running_up_and_down_are_ordered_by_y():
    # given a row drawn vertically (the end of a stadium), seats listed out of order
    from ticketing.selectors import Category, SeatPricing

    seats = [
        {"id": i, "section": "E", "row": "1", "x": 100.0 + (i % 2) * 0.5, "y": y, "category": 1}
        for i, y in ((1, 30.0), (2, 10.0), (3, 20.0), (4, 70.0), (5, 40.0))
    ]
    pricing = SeatPricing({1: Category(1, "A", "10.00", "EUR", "#000000")}, {}, seats)
    # when rows are built
    (row,) = best_available.build_rows(pricing, {"E": 0})
    # then the seats follow y, and the 30-unit gap between 40 and 70 is an aisle
    assert row.seats == (2, 3, 1, 5, 4)
    assert row.breaks == {3}
    blocks = best_available.find_blocks([row], 4, set())
    assert [b.seats for b in blocks] == [(2, 3, 1, 5)]
