"""How payments change a registration, and what they leave alone."""

import json
from decimal import Decimal

import pytest

from payments.models import Payment
from registration_worker.models import Booking
from shared.contracts import ChargeBooking, ContractVersionError, ProcessBookingCommand
from tests.conftest import create_seated_event, seat_ids
from tests.payments.conftest import (
    client_of,
    create_paid_event,
    hold,
    register,
    wait_for_booking,
)
from tests.ticketing.test_holds_api import assert_error

pytestmark = pytest.mark.django_db(transaction=True)


def test_paid_event_requires_a_payment_token(make_user, organizer):
    event = create_paid_event(organizer)
    client = client_of(make_user())
    hold_id = hold(client, event, seat_ids(event)[:1])
    assert_error(register(client, hold_id), 422, "payment_token_required")
    assert_error(register(client, hold_id, token=""), 422, "payment_token_required")
    assert Booking.objects.count() == 0


def test_free_events_are_untouched(make_user, organizer):
    # an event that does not require payment books as before, a token is ignored
    event = create_seated_event(organizer)
    client = client_of(make_user())
    response = register(client, hold(client, event, seat_ids(event)[:1]), token="tok_ignored")
    assert response.status_code == 201
    assert response.json()["status"] == "confirmed"
    assert not Payment.objects.exists()


def test_paid_event_with_a_free_category_needs_no_payment(make_user, organizer):
    event = create_paid_event(organizer)
    event.price_categories.update(price=Decimal("0"))
    client = client_of(make_user())
    response = register(client, hold(client, event, seat_ids(event)[:1]))
    assert response.status_code == 201
    assert response.json()["status"] == "confirmed"
    assert not Payment.objects.exists()


def test_queued_paid_registration_reports_pending_payment(
    bank, booking_worker, payment_worker, make_user, organizer
):
    # given a slow bank, so the booking waits in pending_payment for a while
    bank.configure(latency_ms=1000)
    event = create_paid_event(organizer, registration_mode="queued")
    client = client_of(make_user())
    response = register(client, hold(client, event, seat_ids(event)[:2]), token=bank.token())
    assert response.status_code == 202
    tracking = response.json()["tracking_id"]
    booking = Booking.objects.get(tracking_id=tracking)
    # then the status URL reports pending_payment, with the booking and its tickets
    wait_for_booking(booking.pk, ("pending_payment",))
    status = client.get(f"/api/v1/registrations/{tracking}/").json()
    assert status["status"] == "pending_payment"
    assert len(status["booking"]["tickets"]) == 2
    # and then confirmed
    wait_for_booking(booking.pk, ("confirmed",))
    assert client.get(f"/api/v1/registrations/{tracking}/").json()["status"] == "confirmed"


def test_booking_admin_shows_the_saga(bank, payment_worker, make_user, organizer, admin_client):
    event = create_paid_event(organizer)
    client = client_of(make_user())
    response = register(client, hold(client, event, seat_ids(event)[:1]), token=bank.token())
    booking = wait_for_booking(response.json()["id"])
    page = admin_client.get(f"/admin/registration_worker/booking/{booking.pk}/change/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "Payment saga" in html or "payment saga" in html
    for text in ("Charge", "Confirm the booking", "approved", booking.payment.provider_reference):
        assert text in html


def test_contracts_round_trip_through_json():
    charge = ChargeBooking("c1", "b1", "trace")
    assert ChargeBooking.from_dict(json.loads(json.dumps(charge.to_dict()))) == charge
    with pytest.raises(ContractVersionError):
        ChargeBooking.from_dict({**charge.to_dict(), "version": 99})
    v1 = {
        "command_id": "c",
        "booking_id": "b",
        "event_id": 1,
        "hold_id": "h",
        "buyer_id": 2,
        "currency": "EUR",
        "lines": [{"price_category_id": 3, "price": "45.00", "seat_id": 4}],
        "version": 1,
    }
    command = ProcessBookingCommand.from_dict(v1)
    assert command.payment_required is False
    paid = ProcessBookingCommand.from_dict({**command.to_dict(), "payment_required": True})
    assert ProcessBookingCommand.from_dict(json.loads(json.dumps(paid.to_dict()))) == paid


def test_unpaid_tickets_do_not_admit_at_the_door(bank, payment_worker, make_user, organizer):
    from notifications.checkin import TicketNotValid, check_in_ticket

    # given a booking awaiting its payment (the bank is down)
    event = create_paid_event(organizer)
    token = bank.token()
    bank.stop()
    client = client_of(make_user())
    response = register(client, hold(client, event, seat_ids(event)[:1]), token=token)
    assert response.json()["status"] == "pending_payment"
    code = response.json()["tickets"][0]["code"]
    # then its ticket is refused at check-in, and stays valid for when it is paid
    with pytest.raises(TicketNotValid) as refused:
        check_in_ticket(code, organizer)
    assert refused.value.code == "booking_not_paid"
    assert Booking.objects.get(pk=response.json()["id"]).tickets.get().status == "valid"
    # and once paid, it does
    bank.start()
    wait_for_booking(response.json()["id"], ("confirmed",))
    assert check_in_ticket(code, organizer).ticket.status == "used"


def test_a_paid_registration_that_fails_before_the_charge_is_never_charged(
    bank, make_user, organizer
):
    from payments.services import sweep_payments
    from shared.locks import seat_locks

    event = create_paid_event(organizer)
    client = client_of(make_user())
    hold_id = hold(client, event, seat_ids(event)[:1])
    # the hold expires after the API accepted it
    seat_locks().redis.delete(*seat_locks().redis.keys(f"tk:{{evt:{event.pk}}}:seat:*"))
    error = assert_error(register(client, hold_id, token=bank.token()), 422, "hold_expired")
    payment = Payment.objects.get(booking_id=error["details"]["booking"])
    sweep_payments()
    payment.refresh_from_db()
    assert (payment.status, payment.attempts) == ("voided", 0)
    assert bank.charges_for(payment.booking_id) == []
