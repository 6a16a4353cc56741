"""The catalog: /api/v1/events/ search, filters, ordering, pagination and bad parameters, the
/events/ page that uses the same rules, unlisted events, the landing page and the API index.

One catalog is built for the whole module (inside a transaction rolled back at the end); each test
only reads it, so the module costs one setup.
"""

import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.db import connection, transaction
from django.test import Client
from rest_framework.test import APIClient

from registration_worker.models import Booking, Ticket
from seatmaps.models import Seat, SeatMap, Section, Venue
from shared.enums import BookingSource, BookingStatus
from ticketing.catalog import catalog_events
from ticketing.models import Event, PriceCategory

pytestmark = pytest.mark.django_db


def _event(organizer, venue, title, starts, categories, **fields):
    event = Event.objects.create(
        organizer=organizer,
        title=title,
        slug=f"catalog-{uuid.uuid4().hex[:10]}",
        venue=venue,
        starts_at=starts,
        ends_at=starts + timedelta(hours=3),
        status=fields.pop("status", Event.Status.ON_SALE),
        capacity=fields.pop("capacity", 100),
        **fields,
    )
    for name, price, currency in categories:
        PriceCategory.objects.create(
            event=event, name=name, price=Decimal(price), currency=currency
        )
    return event


def _sold_out_seated(organizer, venue, title, starts):
    """A seated event with 4 seats in one category, all sold."""
    seat_map = SeatMap.objects.create(venue=venue, name=f"map-{title}", kind="procedural")
    section = Section.objects.create(seat_map=seat_map, code="P", name="Parkett")
    seats = Seat.objects.bulk_create(
        Seat(seat_map=seat_map, section=section, row_label="A", number=str(n), label=f"A{n}")
        for n in range(1, 5)
    )
    event = _event(organizer, venue, title, starts, [], seat_map=seat_map, capacity=None)
    category = PriceCategory.objects.create(event=event, name="Parkett", price=Decimal("45.00"))
    category.sections.add(section)
    booking = Booking.objects.create(
        buyer=organizer,
        event=event,
        status=BookingStatus.CONFIRMED,
        source=BookingSource.SIMPLE,
        idempotency_key="sold-out",
        request_fingerprint="x",
        hold_id="h",
        total=Decimal("180.00"),
    )
    for seat in seats:
        Ticket.objects.create(
            booking=booking,
            event=event,
            seat=seat,
            price_category=category,
            price=category.price,
            currency="EUR",
            code=uuid.uuid4().hex,
        )
    return event


@pytest.fixture(scope="module")
def catalog(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock():
        outer = transaction.atomic()
        outer.__enter__()
        try:
            from django.contrib.auth import get_user_model

            organizer = get_user_model().objects.create_user("catalog-organizer", password="x")
            berlin = Venue.objects.create(name="Philharmonie", city="Berlin")
            ring = Venue.objects.create(name="Ring Arena", city="Nürburg")
            munich = Venue.objects.create(
                name="Prinzregententheater", city="München", time_zone="Europe/Berlin"
            )
            zurich = Venue.objects.create(name="Tonhalle", city="Zürich", time_zone="Europe/Zurich")
            events = {
                # 20:00 in Berlin on 10 March 2027
                "jazz": _sold_out_seated(
                    organizer, berlin, "Jazz im Hof", datetime(2027, 3, 10, 19, 0, tzinfo=UTC)
                ),
                "rock": _event(
                    organizer,
                    ring,
                    "Rock am Ring",
                    datetime(2027, 6, 5, 16, 0, tzinfo=UTC),
                    [("Standing", "89.00", "EUR")],
                ),
                # 23:30 UTC on 10 March is 00:30 on 11 March in Munich
                "quartet": _event(
                    organizer,
                    munich,
                    "Kammermusik",
                    datetime(2027, 3, 10, 23, 30, tzinfo=UTC),
                    [("Loge", "120.00", "EUR"), ("Rang", "30.00", "EUR")],
                    description="A string quartet plays Haydn.",
                ),
                "zurich": _event(
                    organizer,
                    zurich,
                    "Zürich Jazz Nights",
                    datetime(2027, 4, 1, 18, 0, tzinfo=UTC),
                    [("Saal", "60.00", "CHF")],
                ),
                "bench": _event(
                    organizer,
                    Venue.objects.create(name="Bench hall", city="Benchville"),
                    "Bench queued 50",
                    datetime(2027, 1, 1, 12, 0, tzinfo=UTC),
                    [("Bench", "10.00", "EUR")],
                    listed=False,
                ),
                "draft": _event(
                    organizer,
                    berlin,
                    "Secret Jazz draft",
                    datetime(2027, 3, 1, 19, 0, tzinfo=UTC),
                    [("A", "10.00", "EUR")],
                    status=Event.Status.DRAFT,
                ),
            }
            yield events
        finally:
            transaction.set_rollback(True)
            outer.__exit__(None, None, None)


ALL_LISTED = ["Jazz im Hof", "Kammermusik", "Rock am Ring", "Zürich Jazz Nights"]


def titles(response) -> list[str]:
    assert response.status_code == 200, response.content
    return [event["title"] for event in response.json()["results"]]


def get(params=None):
    return APIClient().get("/api/v1/events/", params or {})


def test_catalog_lists_listed_public_events_with_labelled_times_and_seats_left(catalog):
    response = get()

    assert sorted(titles(response)) == ALL_LISTED
    body = response.json()
    assert body["count"] == 4
    assert body["next"] is None and body["previous"] is None
    jazz = next(e for e in body["results"] if e["title"] == "Jazz im Hof")
    assert jazz["starts_local"] == "Wed 10 Mar 2027, 20:00 CET (Europe/Berlin)"
    assert jazz["seats_left"] == 0
    assert jazz["url"].endswith(f"/events/{catalog['jazz'].pk}/")
    rock = next(e for e in body["results"] if e["title"] == "Rock am Ring")
    assert rock["seats_left"] == 100
    assert rock["price_categories"][0]["currency"] == "EUR"


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        ("jazz", ["Jazz im Hof", "Zürich Jazz Nights"]),  # title
        ("haydn", ["Kammermusik"]),  # description
        ("philharmonie", ["Jazz im Hof"]),  # venue name
        ("nürburg", ["Rock am Ring"]),  # city
        ("jazz berlin", ["Jazz im Hof"]),  # words from the title and the venue's city together
        ("jazz -zürich", ["Jazz im Hof"]),  # web search syntax
        ("bench", []),  # unlisted events are not found
        ("opera", []),
    ],
)
def test_text_search(catalog, q, expected):
    assert sorted(titles(get({"q": q}))) == expected


def test_the_search_uses_the_gin_index(catalog):
    events = catalog_events(q="jazz")
    with connection.cursor() as cursor:
        # Whether the index *can* serve the search, not what the planner prefers on the tables
        # earlier tests left behind (stale statistics, a long GIN pending list): without a full
        # scan of the table or of another index, only the GIN index can find the rows.
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("SET LOCAL enable_indexscan = off")
        cursor.execute("SET LOCAL enable_indexonlyscan = off")
        sql, params = events.query.sql_with_params()
        cursor.execute(f"EXPLAIN {sql}", params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "event_search_document" in plan


def test_search_follows_a_renamed_venue(catalog):
    # The database triggers keep the document: no Python code has to remember it
    venue = catalog["rock"].venue
    venue.name = "Eifelstadion"
    venue.save()

    assert titles(get({"q": "eifelstadion"})) == ["Rock am Ring"]


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"city": "berlin"}, ["Jazz im Hof"]),
        ({"city": "München"}, ["Kammermusik"]),
        # venue-local dates: Kammermusik starts on 10 March in UTC but 11 March in Munich
        ({"date_from": "2027-03-11", "date_to": "2027-03-11"}, ["Kammermusik"]),
        ({"date_from": "2027-03-10", "date_to": "2027-03-10"}, ["Jazz im Hof"]),
        ({"date_from": "2027-04-01"}, ["Rock am Ring", "Zürich Jazz Nights"]),
        ({"date_to": "2027-03-31"}, ["Jazz im Hof", "Kammermusik"]),
        ({"category": "loge"}, ["Kammermusik"]),
        ({"price_max": "40"}, ["Kammermusik"]),
        ({"price_min": "100"}, ["Kammermusik"]),
        ({"price_min": "50", "price_max": "70"}, ["Zürich Jazz Nights"]),
        ({"currency": "chf"}, ["Zürich Jazz Nights"]),
        ({"price_max": "50", "currency": "EUR"}, ["Jazz im Hof", "Kammermusik"]),
        # one category must match every category rule: Loge is not under 50
        ({"category": "Loge", "price_max": "50"}, []),
        ({"available": "true"}, ["Kammermusik", "Rock am Ring", "Zürich Jazz Nights"]),
        (
            {"available": "false"},
            ["Jazz im Hof", "Kammermusik", "Rock am Ring", "Zürich Jazz Nights"],
        ),
        ({"q": "jazz", "available": "true"}, ["Zürich Jazz Nights"]),
    ],
)
def test_filters(catalog, params, expected):
    assert sorted(titles(get(params))) == expected


@pytest.mark.parametrize(
    ("ordering", "expected"),
    [
        ("starts_at", ["Jazz im Hof", "Kammermusik", "Zürich Jazz Nights", "Rock am Ring"]),
        ("-starts_at", ["Rock am Ring", "Zürich Jazz Nights", "Kammermusik", "Jazz im Hof"]),
        ("price", ["Kammermusik", "Jazz im Hof", "Zürich Jazz Nights", "Rock am Ring"]),
        ("-price", ["Kammermusik", "Rock am Ring", "Zürich Jazz Nights", "Jazz im Hof"]),
        ("title", ["Jazz im Hof", "Kammermusik", "Rock am Ring", "Zürich Jazz Nights"]),
    ],
)
def test_ordering(catalog, ordering, expected):
    assert titles(get({"ordering": ordering})) == expected


def test_relevance_puts_title_matches_first(catalog):
    # "jazz" is in both titles; "berlin" only in the Philharmonie's city
    assert titles(get({"q": "jazz or berlin", "ordering": "relevance"}))[0] == "Jazz im Hof"


def test_pagination_links_keep_the_filters(catalog):
    first = get({"q": "jazz or haydn or rock", "page_size": 2, "ordering": "title"}).json()

    assert first["count"] == 4
    assert [e["title"] for e in first["results"]] == ["Jazz im Hof", "Kammermusik"]
    assert first["previous"] is None
    assert "page=2" in first["next"] and "ordering=title" in first["next"]
    second = APIClient().get(first["next"]).json()
    assert [e["title"] for e in second["results"]] == ["Rock am Ring", "Zürich Jazz Nights"]
    assert second["next"] is None
    assert second["previous"] is not None


def test_a_page_past_the_end_is_a_json_404(catalog):
    response = get({"page": 9})

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"page": "abc"}, "page"),
        ({"page": "0"}, "page"),
        ({"page_size": "1000"}, "page_size"),
        ({"date_from": "next tuesday"}, "date_from"),
        ({"date_from": "2027-03-12", "date_to": "2027-03-11"}, "date_to"),
        ({"price_min": "-1"}, "price_min"),
        ({"price_min": "cheap"}, "price_min"),
        ({"price_min": "90", "price_max": "10"}, "price_max"),
        ({"currency": "EURO"}, "currency"),
        ({"available": "maybe"}, "available"),
        ({"ordering": "popularity"}, "ordering"),
        ({"ordering": "relevance"}, "ordering"),  # relevance needs a q
        ({"q": "x" * 201}, "q"),
    ],
)
def test_bad_parameters_are_a_json_400(catalog, params, field):
    response = get(params)

    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "validation_error"
    assert field in error["details"]


def test_unlisted_events_are_reachable_by_link(catalog):
    bench = catalog["bench"]

    assert APIClient().get(f"/api/v1/events/{bench.pk}/").status_code == 200
    assert Client().get(f"/events/{bench.pk}/").status_code == 200


def test_events_page_searches_with_a_linkable_get_form(catalog):
    html = Client().get("/events/", {"q": "jazz", "available": "true"}).content.decode()

    assert 'role="search"' in html
    assert 'value="jazz"' in html
    assert "Zürich Jazz Nights" in html
    assert "Jazz im Hof" not in html  # sold out
    assert "Rock am Ring" not in html
    assert "from 60.00 CHF" in html
    assert "1 event found" in html


def test_events_page_shows_times_in_the_venue_zone(catalog):
    html = Client().get("/events/", {"city": "Zürich"}).content.decode()

    assert "Thu 1 Apr 2027, 20:00 CEST (Europe/Zurich)" in html


def test_events_page_pagination_keeps_the_search(catalog):
    params = {"q": "jazz or haydn or rock", "ordering": "title", "page_size": 2}
    html = Client().get("/events/", params).content.decode()

    assert "Page 1 of 2" in html
    assert "Jazz im Hof" in html and "Rock am Ring" not in html
    next_link = 'href="?q=jazz+or+haydn+or+rock&amp;ordering=title&amp;page_size=2&amp;page=2"'
    assert next_link in html


def test_events_page_explains_bad_parameters(catalog):
    response = Client().get("/events/", {"date_from": "soon"})

    assert response.status_code == 400
    assert "Please check the search" in response.content.decode()
    assert "date_from" in response.content.decode()


def test_landing_page_shows_what_is_on_sale_and_the_login(catalog):
    html = Client().get("/").content.decode()

    assert "On sale now" in html
    assert "Jazz im Hof" in html
    assert "Bench queued 50" not in html
    assert "Secret Jazz draft" not in html
    assert 'class="login-button"' in html
    assert 'action="/events/"' in html


def test_api_index_links_to_the_parts_of_the_api():
    response = APIClient().get("/api/v1/")

    assert response.status_code == 200
    links = response.json()["links"]
    assert links["events"] == "http://testserver/api/v1/events/"
    assert links["schema"] == "http://testserver/api/v1/schema/"
    assert links["docs"] == "http://testserver/api/v1/docs/"
    assert "auth" in response.json()
