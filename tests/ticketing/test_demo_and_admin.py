"""Demo data loads idempotently; organizers see only their own events in the admin."""

import pytest
from django.contrib.auth.models import Group, Permission
from django.core.management import call_command
from django.test import Client

from registration_worker.models import Booking
from seatmaps.models import Seat
from tests.conftest import create_seated_event
from ticketing.models import Event, PriceCategory

pytestmark = pytest.mark.django_db


def snapshot():
    return (
        Event.objects.count(),
        PriceCategory.objects.count(),
        Seat.objects.count(),
        sorted(Event.objects.values_list("slug", "registration_mode", "status")),
    )


def test_load_demo_is_idempotent():
    call_command("load_demo")
    first = snapshot()
    call_command("load_demo")
    assert snapshot() == first
    events = {e.slug: e for e in Event.objects.all()}
    assert events["hamlet"].seat_map.kind == "procedural"
    assert events["hamlet"].seat_map.seats.count() >= 500
    assert events["stadium-tour"].seat_map.kind == "svg"
    assert events["stadium-tour"].seat_map.seats.count() >= 2000
    assert events["stadium-tour"].registration_mode == "queued"
    assert events["open-air"].capacity and events["open-air"].seat_map is None
    assert events["hamlet"].price_categories.count() == 3


@pytest.fixture
def organizers(make_user):
    group, _ = Group.objects.get_or_create(name="Organizers")
    group.permissions.set(
        Permission.objects.filter(
            content_type__app_label__in=["ticketing", "seatmaps", "registration_worker"]
        )
    )
    users = [make_user(f"org{i}", is_staff=True) for i in (1, 2)]
    for user in users:
        user.groups.add(group)
    return users


def test_organizer_sees_and_edits_only_own_events(organizers, make_user):
    mine = create_seated_event(organizers[0], title="Mine")
    theirs = create_seated_event(organizers[1], title="Theirs")
    client = Client()
    client.force_login(organizers[0])
    listing = client.get("/admin/ticketing/event/")
    assert listing.status_code == 200
    assert b"Mine" in listing.content
    assert b"Theirs" not in listing.content
    assert client.get(f"/admin/ticketing/event/{mine.pk}/change/").status_code == 200
    # another organizer's event is not found, not merely hidden
    assert client.get(f"/admin/ticketing/event/{theirs.pk}/change/").status_code == 302


def test_organizer_sees_only_bookings_of_own_events(organizers, make_user):
    mine = create_seated_event(organizers[0])
    theirs = create_seated_event(organizers[1])
    buyer = make_user()
    for event, key in ((mine, "a"), (theirs, "b")):
        Booking.objects.create(
            buyer=buyer, event=event, source="simple", idempotency_key=key,
            request_fingerprint="x", hold_id="h",
        )  # fmt: skip
    client = Client()
    client.force_login(organizers[0])
    page = client.get("/admin/registration_worker/booking/")
    refs = set(Booking.objects.values_list("event_id", "reference"))
    mine_ref = next(r for e, r in refs if e == mine.pk)
    theirs_ref = next(r for e, r in refs if e == theirs.pk)
    assert mine_ref.encode() in page.content
    assert theirs_ref.encode() not in page.content


def test_superuser_sees_everything(organizers, make_user):
    create_seated_event(organizers[0], title="Mine")
    create_seated_event(organizers[1], title="Theirs")
    admin = make_user("root", is_staff=True, is_superuser=True)
    client = Client()
    client.force_login(admin)
    page = client.get("/admin/ticketing/event/")
    assert b"Mine" in page.content and b"Theirs" in page.content


def test_cancel_action_cancels_bookings(organizers, make_user):
    from rest_framework.test import APIClient

    from tests.conftest import seat_ids

    event = create_seated_event(organizers[0])
    buyer = APIClient()
    buyer.force_authenticate(make_user())
    hold = buyer.post(
        f"/api/v1/events/{event.pk}/holds/", {"seats": seat_ids(event)[:1]}, format="json"
    )
    booking = buyer.post(
        "/api/v1/registrations/",
        {"hold": hold.json()["id"]},
        format="json",
        HTTP_IDEMPOTENCY_KEY="k",
    ).json()
    client = Client()
    client.force_login(organizers[0])
    # the action asks first (a confirmation page), and cancels nothing yet
    asked = client.post(
        "/admin/ticketing/event/",
        {"action": "cancel_events", "_selected_action": [event.pk]},
    )
    assert asked.status_code == 200 and b"Yes, cancel these events" in asked.content
    event.refresh_from_db()
    assert event.status != "cancelled"
    # confirmed with a reason, it cancels the event and its bookings
    client.post(
        "/admin/ticketing/event/",
        {"action": "cancel_events", "_selected_action": [event.pk], "post": "yes",
         "reason": "The venue is closed."},
    )  # fmt: skip
    event.refresh_from_db()
    assert event.status == "cancelled"
    assert event.cancellation_reason == "The venue is closed."
    assert Booking.objects.get(pk=booking["id"]).status == "cancelled"
