"""The booking worker books commands in batches: one transaction for many registrations.

Commands go through the real RabbitMQ to the real worker process (thread pool, as in the
Procfile), or straight into ``batch.process_bookings`` where a test needs one exact batch.
"""

import re
import time
import uuid

import pytest
import redis
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import connection

from registration_worker import batch
from registration_worker.models import Booking, Ticket
from shared.contracts import ProcessBookingCommand, TicketLine
from shared.locks import hold_key, seat_key, seat_locks, sold_key
from tests.conftest import create_ga_event, create_seated_event, seat_ids
from tests.registration_worker.test_races import (
    _wait_for_worker_blocked_on_lock,
    assert_no_seat_sold_twice,
)
from ticketing.services.holds import create_hold
from ticketing.services.registrations import register_hold

pytestmark = pytest.mark.django_db(transaction=True)


def _buyers(count):
    stamp = time.monotonic_ns()
    users = get_user_model()
    users.objects.bulk_create(
        users(username=f"batch-{stamp}-{i}", email=f"batch-{stamp}-{i}@example.com")
        for i in range(count)
    )
    return list(users.objects.filter(username__startswith=f"batch-{stamp}-").order_by("id"))


def _register(buyer, event, seats=None, quantity=None, hold_id=None):
    """Hold (unless ``hold_id``) and register; a queued event publishes the command."""
    if hold_id is None:
        hold_id = create_hold(
            user_id=buyer.pk, event_id=event.pk, seat_ids=seats, quantity=quantity
        ).id
    return register_hold(
        user_id=buyer.pk, hold_id=hold_id, idempotency_key=uuid.uuid4().hex
    ).booking, hold_id


def _wait_until_final(event, timeout=90):
    deadline = time.monotonic() + timeout
    pending = Booking.objects.filter(event=event, status="pending")
    while pending.exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not pending.exists(), "some accepted registrations never reached a final state"


def _wait_for_batches(worker, commands, timeout=15):
    """Sizes of the batches the worker logged since it started, once they add up to
    ``commands`` (a batch logs after its commit and its Redis confirm)."""
    deadline = time.monotonic() + timeout
    while True:
        log = worker.log_path.read_bytes()[worker.log_offset :].decode(errors="replace")
        sizes = [int(n) for n in re.findall(r"booked a batch of (\d+)", log)]
        if sum(sizes) >= commands or time.monotonic() > deadline:
            return sizes
        time.sleep(0.1)


def test_300_commands_over_rabbitmq_with_a_seat_race_inside_a_batch(
    booking_worker, make_user, organizer
):
    # given the worker is down while 300 buyers register one seat each on a queued event,
    event = create_seated_event(
        organizer, rows=7, seats_per_row=50, registration_mode="queued", max_seats_per_buyer=10
    )
    seats = seat_ids(event)
    booking_worker.stop()
    # and, first in the queue, one buyer registers the same hold twice (two idempotency keys):
    # both commands pass the Redis check in the same batch and race at the unique index
    twice = make_user()
    first, hold_id = _register(twice, event, seats=seats[:2])
    second, _ = _register(twice, event, hold_id=hold_id)
    buyers = _buyers(300)
    for buyer, seat in zip(buyers, seats[2:], strict=False):
        _register(buyer, event, seats=[seat])

    # when the worker comes back and the queue is delivered to it in batches
    booking_worker.start()
    _wait_until_final(event)

    # then every registration is final, and the 300 single-seat ones are confirmed
    statuses = dict(Booking.objects.filter(event=event).values_list("pk", "status"))
    assert len(statuses) == 302
    assert sum(1 for s in statuses.values() if s == "confirmed") == 301
    # and exactly one of the twin registrations won; the other lost the race in the batch
    twins = Booking.objects.filter(pk__in=[first.pk, second.pk]).order_by("created_at")
    assert [b.status for b in twins] == ["confirmed", "failed"]
    assert twins[1].failure_reason == "seat_taken"
    assert Ticket.objects.filter(booking__in=twins).count() == 2
    # and the worker really batched: the first batch alone held the twins and more
    sizes = _wait_for_batches(booking_worker, 302)
    assert max(sizes) > 1, sizes
    # and no seat is sold twice; Redis knows every sold seat and keeps no hold of the batch
    assert_no_seat_sold_twice(event)
    sold = set(Ticket.objects.filter(event=event).values_list("seat_id", flat=True))
    assert len(sold) == 302
    client = redis.Redis.from_url(settings.REDIS_URL)
    assert {int(s) for s in client.smembers(sold_key(event.pk)) if s != b"-"} == sold
    assert not client.exists(hold_key(event.pk, hold_id))
    assert not client.exists(*[seat_key(event.pk, s) for s in sold])


def test_worker_killed_mid_batch_loses_and_duplicates_nothing(booking_worker, organizer):
    # given 50 commands queued while the worker is down
    event = create_seated_event(organizer, rows=2, seats_per_row=50, registration_mode="queued")
    seats = seat_ids(event)
    booking_worker.stop()
    for i, buyer in enumerate(_buyers(50)):
        _register(buyer, event, seats=seats[2 * i : 2 * i + 2])
    with connection.cursor() as cursor:
        cursor.execute("BEGIN")
        try:
            # and the ticket table locked, so the batches wait inside their transaction
            cursor.execute("LOCK TABLE registration_worker_ticket IN SHARE MODE")
            booking_worker.start()
            _wait_for_worker_blocked_on_lock()
            # when the worker process is killed mid-batch
            booking_worker.kill()
        finally:
            cursor.execute("ROLLBACK")
    # and comes back (as the process manager would restart it)
    booking_worker.start()
    _wait_until_final(event)
    # then every command was redelivered and booked exactly once
    assert set(Booking.objects.filter(event=event).values_list("status", flat=True)) == {
        "confirmed"
    }
    assert Ticket.objects.filter(event=event).count() == 100
    assert_no_seat_sold_twice(event)


def _command(booking, hold_id, lines, ga_capacity=None):
    return ProcessBookingCommand(
        command_id=str(booking.pk),
        booking_id=str(booking.pk),
        event_id=booking.event_id,
        hold_id=hold_id,
        buyer_id=booking.buyer_id,
        currency="EUR",
        lines=tuple(lines),
        ga_capacity=ga_capacity,
    )


def _pending(event, buyer, hold_id):
    return Booking.objects.create(
        buyer=buyer, event=event, source="queued", idempotency_key=uuid.uuid4().hex,
        request_fingerprint="x", hold_id=hold_id,
    )  # fmt: skip


def test_one_lost_race_fails_only_its_booking_and_a_redelivery_changes_nothing(
    make_user, organizer
):
    # given a batch of three: a and b carry the same hold (the same seats), c other seats
    event = create_seated_event(organizer, registration_mode="queued")
    seats = seat_ids(event)
    category = event.price_categories.get().pk
    line = lambda seat: TicketLine(category, "45.00", seat)  # noqa: E731
    buyer, other = make_user(), make_user()
    shared_hold = create_hold(user_id=buyer.pk, event_id=event.pk, seat_ids=seats[:2]).id
    other_hold = create_hold(user_id=other.pk, event_id=event.pk, seat_ids=seats[2:4]).id
    a = _command(_pending(event, buyer, shared_hold), shared_hold, map(line, seats[:2]))
    b = _command(_pending(event, buyer, shared_hold), shared_hold, map(line, seats[:2]))
    c = _command(_pending(event, other, other_hold), other_hold, map(line, seats[2:4]))
    # when they are booked as one batch
    statuses = batch.process_bookings([a, b, c])
    # then the first of the twins and c are confirmed, the second twin lost at the index
    assert statuses == {
        a.booking_id: "confirmed",
        b.booking_id: "failed",
        c.booking_id: "confirmed",
    }
    assert Booking.objects.get(pk=b.booking_id).failure_reason == "seat_taken"
    assert Ticket.objects.filter(event=event).count() == 4
    assert_no_seat_sold_twice(event)
    _, sold, _ = seat_locks().seat_statuses(event.pk, seats)
    assert sold == set(seats[:4])
    # and the same batch delivered again changes nothing
    assert batch.process_bookings([c, a, b, a]) == statuses
    assert Ticket.objects.filter(event=event).count() == 4


def test_general_admission_batch_respects_the_capacity_postgresql_counts(make_user, organizer):
    # given a general-admission event of 4 with one ticket already sold that Redis never saw
    event = create_ga_event(organizer, capacity=4, registration_mode="queued")
    category = event.price_categories.get().pk
    buyers = [make_user() for _ in range(3)]
    holds = [create_hold(user_id=b.pk, event_id=event.pk, quantity=1).id for b in buyers]
    early = _pending(event, make_user(), "gone")
    Ticket.objects.create(
        booking=early, event=event, price_category_id=category, price="30.00", currency="EUR",
        code="EARLY",
    )  # fmt: skip
    bookings = [_pending(event, b, h) for b, h in zip(buyers, holds, strict=True)]
    # and a batch asking for 1 + 1 + 2 tickets
    quantities = [1, 1, 2]
    commands = [
        _command(bk, h, [TicketLine(category, "30.00")] * q, ga_capacity=4)
        for bk, h, q in zip(bookings, holds, quantities, strict=True)
    ]
    # when it is booked
    statuses = batch.process_bookings(commands)
    # then the first two fit under the capacity and the third is sold out
    assert [statuses[c.booking_id] for c in commands] == ["confirmed", "confirmed", "failed"]
    assert Booking.objects.get(pk=commands[2].booking_id).failure_reason == "sold_out"
    assert Ticket.objects.filter(event=event).count() == 3
