"""RabbitMQ's topology and dead letters (ticketing/broker.py), against the real broker.

The session's booking worker consumes ``bookings``; poison messages must end in
``bookings.dlq``, be counted, and come back with ``manage.py replay_dead_letters``.
"""

import re
import time
import uuid

import pytest
from django.core.management import call_command
from django.test import Client
from kombu import Exchange, Queue

from registration_worker.models import Booking
from shared.messaging import NOTIFY_BOOKING_TASK, PROCESS_BOOKING_TASK
from tests.conftest import WorkerProcess, create_seated_event, json_log_records, seat_ids
from ticketing import broker
from ticketing.celery import app
from ticketing.services.holds import create_hold

pytestmark = pytest.mark.django_db(transaction=True)


def _ready(queue: str) -> int:
    with app.connection_for_read() as conn:
        return conn.default_channel.queue_declare(queue, passive=True)[1]


def _purge(*queues: str) -> None:
    with app.connection_for_write() as conn:
        for queue in queues:
            conn.default_channel.queue_purge(queue)


def _wait_for(predicate, timeout=30, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def test_declare_recreates_an_old_classic_queue_and_a_direct_exchange():
    # given the notifications queue and the bookings exchange as an older release declared
    # them: a classic queue, a direct exchange (RabbitMQ refuses to change either in place)
    with app.connection_for_write() as conn:
        channel = conn.channel()
        channel.queue_delete("notifications")
        channel.exchange_delete("notifications")
        Queue("notifications", Exchange("notifications", type="direct"), "notifications")(
            channel
        ).declare()
        conn.channel().exchange_delete("bookings")
        Exchange("bookings", type="direct")(conn.channel()).declare()
    # when the topology is declared (as every worker and beat do when they start)
    call_command("declare_broker")
    # then both have today's settings: declaring them so again is accepted, not refused
    with app.connection_for_write() as conn:
        for queue in app.conf.task_queues:
            queue(conn.channel()).declare()
        for name in ("bookings", "payments", "notifications"):
            broker.dead_letter_queue(name)(conn.channel()).declare()
        # and the delayed-delivery exchanges exist
        conn.channel().exchange_declare("celery_delayed_27", "topic", passive=True)


def test_a_retry_with_a_countdown_waits_in_rabbitmq_not_in_a_worker():
    # given the declared topology and nobody consuming the notifications queue
    broker.declare_topology(app)
    _purge("notifications")
    # when a notification task is sent with a 2 s countdown (what a retry does)
    app.send_task(
        NOTIFY_BOOKING_TASK,
        kwargs={"topic": "none", "payload": {}, "message_id": None},
        queue="notifications",
        countdown=2,
    )
    # then it is not in the queue yet (a worker would hold it unacked until its ETA) ...
    assert _ready("notifications") == 0
    # ... and RabbitMQ's delay queues deliver it once the countdown has passed
    _wait_for(lambda: _ready("notifications") == 1, timeout=10, what="the delayed message")
    _purge("notifications")


def _publish_raw(body: bytes, headers: dict, content_type="application/json"):
    with app.connection_for_write() as conn:
        conn.Producer().publish(
            body,
            exchange="bookings",
            routing_key="bookings",
            headers=headers,
            content_type=content_type,
            content_encoding="utf-8",
            retry=False,
        )


def _command(booking, hold_id, seat):
    return {
        "command_id": str(booking.pk), "booking_id": str(booking.pk),
        "event_id": booking.event_id, "hold_id": hold_id, "buyer_id": booking.buyer_id,
        "currency": "EUR", "lines": [{"price_category_id": 1, "price": "1.00", "seat_id": seat}],
        "version": 2,
    }  # fmt: skip


def test_poison_commands_end_in_the_dead_letters_are_counted_and_replayed(
    booking_worker, make_user, organizer
):
    _purge("bookings.dlq")
    assert broker.dead_letter_counts()["bookings"] == 0
    # given five poison messages sent to the booking worker: an unknown task, bad kwargs, a
    # body it cannot decode (with and without Celery's headers) and a command whose booking id
    # breaks every attempt (it dies at the delivery limit)
    app.send_task("registration_worker.no_such_task", kwargs={}, queue="bookings")
    app.send_task(PROCESS_BOOKING_TASK, kwargs={"wrong": 1}, queue="bookings")
    task_id = str(uuid.uuid4())
    _publish_raw(b"\xff{not json", {"task": PROCESS_BOOKING_TASK, "id": task_id})
    _publish_raw(b"\x00\x01", {}, content_type="application/x-unknown")
    broken = {**_command(Booking(pk=uuid.uuid4(), event_id=1, buyer_id=1), "h", 1)}
    broken["booking_id"] = "not-a-uuid"
    app.send_task(PROCESS_BOOKING_TASK, kwargs={"command": broken}, queue="bookings")
    # then all five end in bookings.dlq, none vanished
    _wait_for(lambda: broker.dead_letter_counts()["bookings"] == 5, what="5 dead letters")
    # and an operator sees them in /readyz's details
    assert Client().get("/readyz").json()["dead_letters"]["bookings"] == 5

    # given a good command that died too (as one would past its delivery limit in an outage)
    event = create_seated_event(organizer, registration_mode="queued")
    buyer = make_user()
    seat = seat_ids(event)[0]
    hold = create_hold(user_id=buyer.pk, event_id=event.pk, seat_ids=[seat])
    booking = Booking.objects.create(
        buyer=buyer, event=event, source="queued", idempotency_key=uuid.uuid4().hex,
        request_fingerprint="x", hold_id=hold.id,
    )  # fmt: skip
    category = event.price_categories.get().pk
    command = _command(booking, hold.id, seat)
    command["lines"][0]["price_category_id"] = category
    app.send_task(
        PROCESS_BOOKING_TASK,
        kwargs={"command": command},
        exchange="bookings.dlx",
        routing_key="bookings.dlq",
    )
    _wait_for(lambda: broker.dead_letter_counts()["bookings"] == 6, what="6 dead letters")
    # when an operator replays the bookings dead letters
    call_command("replay_dead_letters", "--queue", "bookings")
    # then the good command is booked, and the poison ones die again (nothing lost)
    _wait_for(lambda: Booking.objects.get(pk=booking.pk).status == "confirmed", what="the replay")
    _wait_for(lambda: broker.dead_letter_counts()["bookings"] == 5, what="poison back in dlq")
    _purge("bookings.dlq")


def test_a_periodic_worker_starts_without_an_error_line(artifacts_dir):
    # given the declared topology, when a worker of beat's queue starts as in the Procfile
    worker = WorkerProcess(
        "periodic", artifacts_dir / "worker-periodic.log", concurrency=2, pool="threads"
    ).start()
    try:
        time.sleep(1)  # the delayed-delivery bootstep binds the queues right after "ready"
        log = worker.log_path.read_bytes()[worker.log_offset :].decode(errors="replace")
    finally:
        worker.stop()
    # then it logged no ERROR or CRITICAL line, nor a warning about a direct exchange
    assert not [r for r in json_log_records(log) if r["level"] in ("error", "critical")], log
    assert not re.findall(r"(ERROR|CRITICAL)/", log), log  # nor one in Celery's own format
    assert "direct exchange" not in log
    assert "broker topology declared" in log


def test_the_relay_reconnects_a_pooled_connection_the_broker_closed():
    from registration_worker.outbox import send_tasks_confirmed

    # given the publishing pool's connection closed under it (as by a RabbitMQ restart)
    broker.declare_topology(app)
    _purge("notifications")
    with app.pool.acquire(block=True) as conn:
        conn.close()
    # when the outbox relay sends the next round, then it is published and confirmed
    payload = {"topic": "none", "payload": {}, "message_id": None}
    send_tasks_confirmed([(NOTIFY_BOOKING_TASK, payload, "notifications")])
    _wait_for(lambda: _ready("notifications") == 1, timeout=10, what="the relayed message")
    _purge("notifications")
