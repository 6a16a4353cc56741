"""The sales read model against the real broker: the outbox relay publishes booking events to
the ``sales`` queue and the projector (a real Celery worker) applies them.

One sale with confirmations, cancellations, check-ins, payments approved, declined and refunded
(through the real payment worker and bank simulator) is checked against a plain SQL count over
the booking side: after a normal run, after the projector was SIGKILLed mid-stream and
restarted, after an event was delivered twice, and after ``rebuild_sales``.
"""

import time

import pytest
from django.core.management import call_command

from notifications.checkin import check_in_ticket
from payments.services import refund_and_cancel_booking
from registration_worker.models import OutboxMessage, Ticket
from registration_worker.outbox import send_tasks_confirmed
from registration_worker.services import cancel_booking
from sales.models import AppliedMessage, EventSales
from sales.projector import ProjectionFailed, apply_messages
from shared.messaging import PROJECT_SALES_TASK, SALES_QUEUE, SALES_TOPICS
from tests.conftest import create_ga_event, create_seated_event, seat_ids
from tests.payments.conftest import (
    DECLINED_CARD,
    client_of,
    create_paid_event,
    quick_users,
    register,
    wait_for_booking,
    wait_until,
)
from tests.sales.write_side import counted_from_bookings, read_model

pytestmark = pytest.mark.django_db(transaction=True)


def _book(event, buyer, seats=None, quantity=None, token=None):
    client = client_of(buyer)
    body = {"seats": seats} if seats else {"quantity": quantity}
    response = client.post(f"/api/v1/events/{event.pk}/holds/", body, format="json")
    assert response.status_code == 201, response.content
    response = register(client, response.json()["id"], token=token)
    assert response.status_code in (201, 202), response.content
    return response.json()["id"]


def _sales_messages(event_ids) -> int:
    return OutboxMessage.objects.filter(
        topic__in=SALES_TOPICS, payload__event_id__in=list(event_ids)
    ).count()


def _applied(event_ids) -> int:
    ids = OutboxMessage.objects.filter(
        topic__in=SALES_TOPICS, payload__event_id__in=list(event_ids)
    ).values_list("id", flat=True)
    return AppliedMessage.objects.filter(message_id__in=list(ids)).count()


def _run_sale(organizer, bank):
    """A small sale on three events; returns their ids once every booking settled."""
    free = create_seated_event(organizer, rows=3, seats_per_row=8, title="Free seated")
    paid = create_paid_event(organizer, rows=3, seats_per_row=8, title="Paid seated")
    ga = create_ga_event(organizer, capacity=30, title="Standing")
    buyers = quick_users(20)
    free_seats, paid_seats = seat_ids(free), seat_ids(paid)

    free_bookings = [_book(free, buyers[i], free_seats[2 * i : 2 * i + 2]) for i in range(8)]
    ga_bookings = [_book(ga, buyers[i], quantity=3) for i in range(4)]
    approved = [
        _book(paid, buyers[i], paid_seats[2 * i : 2 * i + 2], token=bank.token()) for i in range(6)
    ]
    declined = [
        _book(paid, buyers[10 + i], paid_seats[20 + i : 21 + i], token=bank.token(DECLINED_CARD))
        for i in range(3)
    ]
    for booking_id in approved + declined:
        wait_for_booking(booking_id)
    # cancellations by the organizer (free) and refunds of paid bookings
    for booking_id in free_bookings[:2] + ga_bookings[:1]:
        cancel_booking(booking_id=booking_id)
    for booking_id in approved[:2]:
        refund_and_cancel_booking(booking_id=booking_id, by_buyer=False)
    # three tickets admitted at the door
    for ticket in Ticket.objects.filter(booking_id__in=free_bookings[2:5]).order_by("id")[:3]:
        check_in_ticket(ticket.code, organizer)
    return [free.pk, paid.pk, ga.pk]


def _wait_projected(event_ids, timeout=60):
    expected = _sales_messages(event_ids)
    wait_until(lambda: _applied(event_ids) == expected, timeout, "every event projected")


def test_projection_matches_the_booking_side_through_crash_redelivery_and_rebuild(
    paying_bank, payment_worker, projector, organizer
):
    # given a whole sale whose events wait in the sales queue (no projector running yet)
    event_ids = _run_sale(organizer, paying_bank)
    truth = counted_from_bookings(event_ids)
    assert truth["events"][event_ids[1]][3] == 3  # declines happened
    assert truth["events"][event_ids[1]][5] > 0  # refunds happened
    total = _sales_messages(event_ids)
    assert total == 29  # 21 bookings settled, 5 cancelled, 3 tickets checked in

    # when the projector starts and is SIGKILLed in the middle of the stream
    projector.start()
    wait_until(lambda: _applied(event_ids) >= 5, 30, "the projector to begin")
    projector.kill()
    assert _applied(event_ids) < total, "the projector finished before it could be killed"
    # and started again: the unacknowledged events are delivered again
    projector.start()
    _wait_projected(event_ids)
    # then the read tables hold exactly what the booking side says
    assert read_model(event_ids) == truth

    # when an event already applied is delivered once more
    confirmed = OutboxMessage.objects.filter(
        topic="BookingConfirmed", payload__event_id=event_ids[0]
    ).first()
    kwargs = {"topic": confirmed.topic, "payload": confirmed.payload, "message_id": confirmed.pk}
    send_tasks_confirmed([(PROJECT_SALES_TASK, kwargs, SALES_QUEUE)])
    # (followed by a fresh check-in: the projector applies in order, so once that one counts,
    # the duplicate went through too)
    ticket = Ticket.objects.filter(event_id=event_ids[0], status="valid").first()
    check_in_ticket(ticket.code, organizer)
    _wait_projected(event_ids)
    # then it counted once
    assert read_model(event_ids) == counted_from_bookings(event_ids)
    assert EventSales.objects.get(event_id=event_ids[0]).tickets_checked_in == 4

    # when the read tables are rebuilt from the booking side
    before = read_model(event_ids)
    EventSales.objects.filter(event_id=event_ids[0]).update(tickets_sold=999)  # damage
    call_command("rebuild_sales")
    # then the figures are the same, and later events are still applied once
    assert read_model(event_ids) == before
    ticket = Ticket.objects.filter(event_id=event_ids[0], status="valid").first()
    check_in_ticket(ticket.code, organizer)
    _wait_projected(event_ids)
    time.sleep(0.5)  # nothing else may arrive
    assert read_model(event_ids) == counted_from_bookings(event_ids)


def test_a_batch_applies_its_good_events_once_and_names_the_bad_one(organizer, make_user):
    # given a confirmed booking of two seats (simple flow): its BookingConfirmed row
    event = create_seated_event(organizer)
    _book(event, make_user(), seat_ids(event)[:2])
    row = OutboxMessage.objects.get(topic="BookingConfirmed", payload__event_id=event.pk)
    good = {"topic": row.topic, "payload": row.payload, "message_id": row.pk, "trace_id": ""}
    bad = {"topic": row.topic, "payload": {}, "message_id": row.pk + 10**9, "trace_id": ""}
    # when one relay round's batch holds a malformed event before it
    with pytest.raises(ProjectionFailed, match=str(bad["message_id"])):
        apply_messages([bad, good])
    # then the good one counted and the bad one is not recorded as applied
    assert EventSales.objects.get(event_id=event.pk).tickets_sold == 2
    assert not AppliedMessage.objects.filter(message_id=bad["message_id"]).exists()
    # and replaying the batch (from the dead letters) counts nothing twice
    with pytest.raises(ProjectionFailed):
        apply_messages([bad, good])
    assert EventSales.objects.get(event_id=event.pk).tickets_sold == 2
    assert AppliedMessage.objects.filter(message_id=row.pk).count() == 1
