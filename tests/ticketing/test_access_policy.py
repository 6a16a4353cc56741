"""The one access policy, tried by a hostile organizer who owns an account of their own.

Every organizer is staff (the admin is their back office), so each attack below is made by
organizer2, a staff member of the Organizers group, against organizer1's venue, seat map,
sections, draft event, tickets and live seat feed; and by a buyer who used their ticket.
"""

import pytest
from asgiref.sync import async_to_sync
from channels.testing import WebsocketCommunicator
from django.contrib.auth.models import Group, Permission
from django.test import Client
from rest_framework.test import APIClient

from notifications.consumers import CLOSE_NOT_FOUND
from registration_worker.models import Booking, Ticket
from seatmaps import services as seatmap_services
from seatmaps.demo import theatre_params
from seatmaps.models import Venue
from shared.enums import BookingStatus, TicketStatus
from tests.conftest import create_seated_event, seat_ids
from ticketing.asgi import application
from ticketing.models import Event
from ticketing.services import events as event_services
from ticketing.services.event_rules import publish_event_rules
from ticketing.services.holds import create_hold

pytestmark = pytest.mark.django_db

ORIGIN = (b"origin", b"http://localhost:8000")


@pytest.fixture
def organizers(django_user_model):
    group, _ = Group.objects.get_or_create(name="Organizers")
    group.permissions.set(
        Permission.objects.filter(content_type__app_label__in=["ticketing", "seatmaps"])
    )
    users = []
    for name in ("organizer1", "organizer2"):
        user = django_user_model.objects.create_user(name, password="pw", is_staff=True)
        user.groups.add(group)
        users.append(user)
    return users


def client_of(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def owned(organizers):
    """organizer1's venue and seat map, and an event on sale using them."""
    organizer1, _ = organizers
    venue = Venue.objects.create(name="Theatre One", city="Bonn", owner=organizer1)
    seat_map = seatmap_services.create_procedural_map(venue, "Hall", theatre_params(), organizer1)
    return venue, seat_map


# --- the admin: venues, seat maps and sections belong to their owner -------------------------


def test_another_organizer_cannot_see_or_change_my_venue(organizers, owned):
    venue, _ = owned
    attacker = client_of(organizers[1])

    assert "Theatre One" not in attacker.get("/admin/seatmaps/venue/").content.decode()
    url = f"/admin/seatmaps/venue/{venue.pk}/change/"
    assert attacker.get(url).status_code in (302, 404)  # the admin redirects unknown ids
    renamed = attacker.post(url, {"name": "Pwned", "city": "X", "time_zone": "UTC"})
    assert renamed.status_code in (302, 403, 404)
    deleted = attacker.post(f"/admin/seatmaps/venue/{venue.pk}/delete/", {"post": "yes"})
    assert deleted.status_code in (302, 403, 404)

    venue.refresh_from_db()
    assert venue.name == "Theatre One"


def test_another_organizer_cannot_rename_regenerate_or_delete_my_seat_map(organizers, owned):
    venue, seat_map = owned
    seats_before = set(seat_map.seats.values_list("pk", flat=True))
    attacker = client_of(organizers[1])

    assert "Hall" not in attacker.get("/admin/seatmaps/seatmap/").content.decode()
    url = f"/admin/seatmaps/seatmap/{seat_map.pk}/change/"
    attacker.post(url, {"venue": venue.pk, "name": "Pwned", "sections": "x | X | 1 | 1"})
    attacker.post(f"/admin/seatmaps/seatmap/{seat_map.pk}/delete/", {"post": "yes"})
    section = seat_map.sections.first()
    attacker.post(
        f"/admin/seatmaps/section/{section.pk}/change/", {"name": "Pwned", "position": "9"}
    )

    seat_map.refresh_from_db()
    assert seat_map.name == "Hall"
    assert set(seat_map.seats.values_list("pk", flat=True)) == seats_before
    section.refresh_from_db()
    assert section.name != "Pwned"


def test_an_organizer_cannot_build_an_event_on_another_organizers_venue_or_map(organizers, owned):
    venue, seat_map = owned
    attacker = client_of(organizers[1])

    form = attacker.get("/admin/ticketing/event/add/").content.decode()
    assert f'<option value="{venue.pk}"' not in form
    assert f'<option value="{seat_map.pk}"' not in form


def test_the_owner_and_platform_admins_manage_the_venue_and_map(
    organizers, owned, django_user_model
):
    venue, seat_map = owned
    admin = django_user_model.objects.create_superuser("root", "root@example.com", "pw")
    for user in (organizers[0], admin):
        client = client_of(user)
        assert client.get(f"/admin/seatmaps/venue/{venue.pk}/change/").status_code == 200
        page = client.get(f"/admin/seatmaps/seatmap/{seat_map.pk}/change/")
        assert page.status_code == 200
        assert 'name="_save"' in page.content.decode()  # editable, not a read-only view


def test_shared_venues_are_usable_by_every_organizer_but_changed_by_admins_only(organizers):
    shared = Venue.objects.create(name="City Arena", city="Köln")  # no owner
    attacker = client_of(organizers[1])

    assert (
        f'<option value="{shared.pk}"'
        in attacker.get("/admin/ticketing/event/add/").content.decode()
    )
    page = attacker.get(f"/admin/seatmaps/venue/{shared.pk}/change/").content.decode()
    assert 'name="_save"' not in page  # a read-only view
    attacker.post(
        f"/admin/seatmaps/venue/{shared.pk}/change/",
        {"name": "Mine now", "city": "X", "time_zone": "UTC"},
    )
    shared.refresh_from_db()
    assert shared.name == "City Arena"


def test_a_new_venue_belongs_to_the_organizer_who_adds_it(organizers):
    response = client_of(organizers[1]).post(
        "/admin/seatmaps/venue/add/",
        {"name": "Club Two", "city": "Bonn", "time_zone": "Europe/Berlin", "owner": ""},
    )
    assert response.status_code == 302
    assert Venue.objects.get(name="Club Two").owner == organizers[1]


def test_a_map_in_use_by_an_event_on_sale_cannot_be_regenerated_from_the_admin(organizers, owned):
    venue, seat_map = owned
    event = create_seated_event(organizers[0])
    Event.objects.filter(pk=event.pk).update(seat_map=seat_map)
    seats_before = set(seat_map.seats.values_list("pk", flat=True))

    page = client_of(organizers[0]).post(
        f"/admin/seatmaps/seatmap/{seat_map.pk}/change/",
        {
            "venue": venue.pk,
            "name": "Hall",
            "sections": "stalls | Stalls | 2 | 2",
            "row_labels": "letters",
            "numbering": "left_to_right",
            "seat_spacing": "30",
            "row_spacing": "34",
            "aisle_width": "30",
            "section_gap": "50",
            "curve_radius": "0",
            "sections-TOTAL_FORMS": "0",
            "sections-INITIAL_FORMS": "0",
        },
    )

    assert page.status_code == 200
    assert "used by published events" in page.content.decode()
    assert set(seat_map.seats.values_list("pk", flat=True)) == seats_before


# --- drafts: their organizer and admins only, on every door --------------------------------


@pytest.fixture
def draft(organizers):
    return create_seated_event(organizers[0], title="Secret tour", status=Event.Status.DRAFT)


def test_another_organizer_cannot_preview_my_draft(organizers, draft):
    assert client_of(organizers[1]).get(f"/events/{draft.pk}/").status_code == 404
    assert client_of(organizers[0]).get(f"/events/{draft.pk}/").status_code == 200


def test_nobody_else_reads_a_drafts_prices_and_seats_from_the_api(organizers, draft):
    attacker, anonymous = APIClient(), APIClient()
    attacker.force_authenticate(organizers[1])
    for client in (attacker, anonymous):
        response = client.get(f"/api/v1/events/{draft.pk}/seats/")
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "event_not_found"
        assert "45.00" not in response.content.decode()
    mine = APIClient()
    mine.force_authenticate(organizers[0])
    assert mine.get(f"/api/v1/events/{draft.pk}/seats/").status_code == 200


def test_another_organizer_cannot_watch_my_drafts_live_seat_feed(organizers, draft):
    client = Client()
    client.force_login(organizers[1])
    cookie = (b"cookie", f"sessionid={client.cookies['sessionid'].value}".encode())

    async def scenario():
        communicator = WebsocketCommunicator(
            application, f"/ws/events/{draft.pk}/", headers=[ORIGIN, cookie]
        )
        try:
            connected, _ = await communicator.connect()
            assert connected
            closed = await communicator.receive_output(timeout=2)
            assert closed == {"type": "websocket.close", "code": CLOSE_NOT_FOUND}
        finally:
            await communicator.disconnect()

    async_to_sync(scenario)()


# --- a used ticket is not refunded --------------------------------------------------------


@pytest.fixture
def used_booking(organizers, make_user):
    event = create_seated_event(organizers[0])
    buyer = make_user()
    booking = Booking.objects.create(
        buyer=buyer,
        event=event,
        status=BookingStatus.CONFIRMED,
        source="simple",
        idempotency_key="k1",
        request_fingerprint="f" * 64,
        hold_id="h1",
        total="45.00",
    )
    seat = event.seat_map.seats.order_by("pk").first()
    Ticket.objects.create(
        booking=booking,
        event=event,
        seat=seat,
        price_category=event.price_categories.get(),
        price="45.00",
        currency="EUR",
        code="USED-TICKET-1",
        status=TicketStatus.USED,
    )
    return booking


def test_a_buyer_cannot_cancel_after_attending(used_booking):
    client = APIClient()
    client.force_authenticate(used_booking.buyer)

    response = client.post(f"/api/v1/bookings/{used_booking.pk}/cancel/")

    assert response.status_code == 422, response.content
    assert response.json()["error"]["code"] == "ticket_used"
    used_booking.refresh_from_db()
    assert used_booking.status == BookingStatus.CONFIRMED
    assert used_booking.tickets.get().status == TicketStatus.USED


def test_the_organizer_cancelling_the_event_still_cancels_used_bookings(used_booking):
    event_services.cancel_event(event=used_booking.event)

    used_booking.refresh_from_db()
    assert used_booking.status == BookingStatus.CANCELLED


# --- a hold on seats that left the sale --------------------------------------------------


def test_registering_a_hold_whose_seat_left_the_sale_is_a_clear_422(organizers, make_user):
    event = create_seated_event(organizers[0])
    buyer = make_user()
    hold = create_hold(user_id=buyer.pk, event_id=event.pk, seat_ids=seat_ids(event)[:2])
    # the organizer takes the section out of every price category while the seats are held
    event.price_categories.get().sections.clear()
    publish_event_rules(event)
    client = APIClient()
    client.force_authenticate(buyer)

    response = client.post(
        "/api/v1/registrations/", {"hold": hold.id}, format="json", HTTP_IDEMPOTENCY_KEY="gone-1"
    )

    assert response.status_code == 422, response.content
    assert response.json()["error"]["code"] == "unknown_seats"
    assert not Booking.objects.filter(buyer=buyer).exists()
