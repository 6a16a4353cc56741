"""Door check-in: POST /api/v1/checkin/ admits a ticket once, whatever the scanners do."""

import threading

import pytest
from django.db import connection
from rest_framework.test import APIClient

from registration_worker.models import Ticket
from shared.enums import BookingStatus, TicketStatus
from shared.ticket_codes import issue_code
from ticketing.models import Event

URL = "/api/v1/checkin/"


def scan(user, code):
    client = APIClient()
    client.force_authenticate(user)
    return client.post(URL, {"code": code}, format="json")


@pytest.fixture
def event_organizer(make_user):
    """The organizer of ``event``: an ordinary account, not staff (the door needs no admin)."""
    return make_user()


@pytest.fixture
def event(make_event, event_organizer):
    return make_event(event_organizer)


@pytest.fixture
def ticket(make_user, make_booking, event):
    seat = event.seat_map.seats.get(row_label="A", number="3")
    booking = make_booking(make_user(first_name="Alan", last_name="Turing"), event, seats=[seat])
    return booking.tickets.get()


def test_a_valid_code_admits_the_ticket_and_names_holder_seat_and_event(event_organizer, ticket):
    response = scan(event_organizer, ticket.code)

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["holder"]["name"] == "Alan Turing"
    assert body["seat"] | {"id": None} == {
        "id": None,
        "section": "Parkett",
        "row": "A",
        "number": "3",
        "label": "Parkett A3",
    }
    assert body["event"]["title"] == ticket.event.title
    ticket.refresh_from_db()
    assert ticket.status == TicketStatus.USED
    assert ticket.checked_in_at is not None


def test_lowercase_and_padded_scans_are_accepted(event_organizer, ticket):
    assert scan(event_organizer, f"  {ticket.code.lower()}\n").status_code == 200


def test_a_second_scan_answers_409_with_the_first_check_in_time(event_organizer, ticket):
    first = scan(event_organizer, ticket.code)
    second = scan(event_organizer, ticket.code)

    assert second.status_code == 409
    error = second.json()["error"]
    assert error["code"] == "ticket_already_used"
    assert error["details"]["checked_in_at"] == first.json()["checked_in_at"]
    assert "already checked in" in error["message"]


def test_a_forged_code_is_refused_with_400(event_organizer, ticket):
    # Same event id, different signature: flip one character of the MAC.
    forged = ticket.code[:-1] + ("A" if ticket.code[-1] != "A" else "B")

    response = scan(event_organizer, forged)

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_ticket_code"
    assert "signature" in response.json()["error"]["message"]
    assert Ticket.objects.get(pk=ticket.pk).status == TicketStatus.VALID


def test_a_truncated_code_is_refused_with_400(event_organizer, ticket):
    response = scan(event_organizer, ticket.code[:20])

    assert response.status_code == 400
    assert "incomplete" in response.json()["error"]["message"]


def test_a_missing_code_is_a_validation_error(event_organizer):
    client = APIClient()
    client.force_authenticate(event_organizer)
    response = client.post(URL, {}, format="json")

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "validation_error"


def test_a_cancelled_ticket_answers_410(make_user, make_booking, event_organizer, event):
    booking = make_booking(
        make_user(),
        event,
        count=1,
        status=BookingStatus.CANCELLED,
        ticket_status=TicketStatus.CANCELLED,
        seats=[event.seat_map.seats.first()],
    )

    response = scan(event_organizer, booking.tickets.get().code)

    assert response.status_code == 410
    assert response.json()["error"]["code"] == "ticket_cancelled"


def test_tickets_of_a_cancelled_event_answer_410(event_organizer, ticket):
    Event.objects.filter(pk=ticket.event_id).update(status=Event.Status.CANCELLED)

    assert scan(event_organizer, ticket.code).status_code == 410


def test_another_organizer_may_not_check_in(make_user, ticket):
    response = scan(make_user(), ticket.code)

    assert response.status_code == 403
    assert Ticket.objects.get(pk=ticket.pk).status == TicketStatus.VALID


def test_another_organizer_with_staff_rights_may_not_check_in(make_user, ticket):
    # every organizer is staff (the admin is their back office): staff is not "organizer of
    # this event", so organizer2 neither consumes the ticket nor learns the holder's name
    response = scan(make_user(is_staff=True), ticket.code)

    assert response.status_code == 403
    assert "Turing" not in response.content.decode()
    assert Ticket.objects.get(pk=ticket.pk).status == TicketStatus.VALID


def test_a_platform_admin_may_check_in_any_event(make_user, ticket):
    assert scan(make_user(is_staff=True, is_superuser=True), ticket.code).status_code == 200


def test_anonymous_scans_are_refused(ticket):
    response = APIClient().post(URL, {"code": ticket.code}, format="json")

    assert response.status_code in (401, 403)


def test_a_signed_code_without_a_ticket_is_404(event_organizer, event):
    assert scan(event_organizer, issue_code(event.id)).status_code == 404


@pytest.mark.django_db(transaction=True)
def test_twenty_concurrent_scans_admit_exactly_once(event_organizer, ticket):
    statuses, barrier = [], threading.Barrier(20)

    def scanner():
        try:
            barrier.wait()
            statuses.append(scan(event_organizer, ticket.code).status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=scanner) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert sorted(statuses) == [200] + [409] * 19
