"""One time zone rule: event times are shown and typed in the venue's zone, labelled."""

from datetime import UTC, datetime

import pytest
from django.core.exceptions import ValidationError
from django.test import Client

from seatmaps.models import Venue
from shared.local_time import format_local, reinterpret, validate_time_zone, zone
from tests.conftest import create_ga_event
from ticketing.auth.services import organizers_group

pytestmark = pytest.mark.django_db

SUMMER_EVENING_UTC = datetime(2027, 7, 3, 18, 0, tzinfo=UTC)


def test_format_local_labels_the_zone_and_its_abbreviation():
    assert format_local(SUMMER_EVENING_UTC, "Europe/Berlin") == (
        "Sat 3 Jul 2027, 20:00 CEST (Europe/Berlin)"
    )
    assert format_local(SUMMER_EVENING_UTC, "America/New_York", with_date=False) == (
        "14:00 EDT (America/New_York)"
    )


def test_reinterpret_keeps_the_wall_clock():
    typed_in_utc = datetime(2027, 7, 3, 20, 0, tzinfo=UTC)

    moved = reinterpret(typed_in_utc, UTC, "Europe/Berlin")

    assert moved == SUMMER_EVENING_UTC
    assert moved.astimezone(zone("Europe/Berlin")).hour == 20


@pytest.mark.parametrize("name", ["Mars/Olympus_Mons", "", "../etc/passwd"])
def test_unknown_time_zones_are_refused(name):
    with pytest.raises(ValidationError):
        validate_time_zone(name)


def summer_event(organizer):
    # A member of the organizers group: the admin's organizer field offers only organizers.
    organizer.groups.add(organizers_group())
    event = create_ga_event(organizer)
    event.starts_at, event.ends_at = SUMMER_EVENING_UTC, SUMMER_EVENING_UTC.replace(hour=22)
    event.save(update_fields=["starts_at", "ends_at"])
    return event


def test_event_page_shows_the_start_in_the_venue_zone(organizer):
    event = summer_event(organizer)
    Venue.objects.filter(pk=event.venue_id).update(time_zone="America/New_York")

    html = Client().get(f"/events/{event.pk}/").content.decode()

    assert "Sat 3 Jul 2027, 14:00 EDT (America/New_York)" in html


@pytest.fixture
def admin_client_(make_user):
    client = Client()
    client.force_login(make_user("tz-root", is_staff=True, is_superuser=True))
    return client


def _change_form_data(event, *, date, time, venue=None):
    """The admin change form of ``event`` as a browser posts it, with a new start."""
    return {
        "organizer": event.organizer_id,
        "title": event.title,
        "slug": event.slug,
        "description": "",
        "venue": (venue or event.venue).pk,
        "capacity": event.capacity,
        "starts_at_0": date,
        "starts_at_1": time,
        "ends_at_0": "2027-07-04",
        "ends_at_1": "02:00",
        "status": event.status,
        "registration_mode": event.registration_mode,
        "hold_ttl_seconds": 600,
        "max_seats_per_order": 10,
        "max_seats_per_buyer": 20,
        "hold_cooldown_seconds": 60,
        "payment_deadline_minutes": 15,
        "listed": "on",
        "price_categories-TOTAL_FORMS": 0,
        "price_categories-INITIAL_FORMS": 0,
        "price_categories-MIN_NUM_FORMS": 0,
        "price_categories-MAX_NUM_FORMS": 1000,
        "_save": "Save",
    }


def test_admin_shows_and_takes_times_in_the_venue_zone(organizer, admin_client_):
    # Given an event in a New York venue starting 14:00 local (18:00 UTC)
    event = summer_event(organizer)
    new_york = Venue.objects.create(name="Hall", city="New York", time_zone="America/New_York")
    event.venue = new_york
    event.save(update_fields=["venue"])
    url = f"/admin/ticketing/event/{event.pk}/change/"

    # The form shows the venue's wall clock and says which zone it is
    html = admin_client_.get(url).content.decode()
    assert 'name="starts_at_1" value="14:00:00"' in html
    assert "Local time at the venue (America/New_York" in html

    # Typing 20:00 means 20:00 in New York (00:00 UTC the next day)
    response = admin_client_.post(url, _change_form_data(event, date="2027-07-03", time="20:00"))
    assert response.status_code == 302, response.content.decode()[-3000:]
    event.refresh_from_db()
    assert event.starts_at == datetime(2027, 7, 4, 0, 0, tzinfo=UTC)


def test_admin_moving_the_event_keeps_the_typed_wall_clock(organizer, admin_client_):
    # Given a New York event, moved to Berlin in the same save with "20:00" typed
    event = summer_event(organizer)
    Venue.objects.filter(pk=event.venue_id).update(time_zone="America/New_York")
    berlin = Venue.objects.create(name="Saal", city="Berlin", time_zone="Europe/Berlin")
    data = _change_form_data(event, date="2027-07-03", time="20:00", venue=berlin)

    response = admin_client_.post(f"/admin/ticketing/event/{event.pk}/change/", data)

    assert response.status_code == 302
    event.refresh_from_db()
    assert event.starts_at == SUMMER_EVENING_UTC  # 20:00 CEST


def test_admin_list_labels_the_start(organizer, admin_client_):
    event = summer_event(organizer)

    html = admin_client_.get("/admin/ticketing/event/").content.decode()

    assert format_local(event.starts_at, event.venue.time_zone) in html
