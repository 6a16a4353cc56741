"""Relay of outbox rows: to the notifications queue and to WebSocket clients.

Rows are written in the transaction of the change they report; ``relay_after_commit`` sends
them as soon as that transaction commits and the periodic ``relay_outbox`` task sweeps what a
crash or a broker outage left behind. Consumers are idempotent, so a row relayed twice (a crash
after publishing, before marking it sent) does no harm.
"""

import logging
import time

from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from registration_worker.models import OutboxMessage
from shared import realtime
from shared.logs import TRACE_ID
from shared.messaging import (
    COMMAND_ROUTES,
    NOTIFICATIONS_QUEUE,
    NOTIFY_BOOKING_TASK,
    PROJECT_SALES_BATCH_TASK,
    SALES_QUEUE,
    SALES_TOPICS,
    TOPIC_BOOKING_CANCELLED,
    TOPIC_TICKET_CHECKED_IN,
    TOPIC_USER_REGISTERED,
)

log = logging.getLogger(__name__)

# Sold seats are announced by the confirm script itself (shared.locks), atomically with the
# move to the sold set; cancellations are announced here.
_SEAT_STATUS_BY_TOPIC = {
    TOPIC_BOOKING_CANCELLED: "available",
}


def skip_commit_flush() -> None:
    """Let the current transaction commit without waiting for the WAL flush.

    Only for writes whose loss in a database crash is harmless (a relayed flag, a timestamp):
    it saves a disk flush per booking. Bookings and tickets always commit synchronously.
    """
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL synchronous_commit TO OFF")


def relay_after_commit(message_id: int) -> None:
    transaction.on_commit(lambda: relay_messages([message_id]))


def booking_update(payload: dict) -> dict:
    """The ``/ws/me/`` view of a booking event."""
    return {
        key: payload[key]
        for key in ("booking_id", "reference", "tracking_id", "event_id", "status", "reason")
    }


def _tasks_of(messages: list[OutboxMessage]) -> list[tuple[str, dict, str, str]]:
    """The Celery tasks (name, kwargs, queue, trace id) that carry outbox rows: a command goes
    to its worker; an event to the notifier, each with the row's trace id whoever relays it;
    the events the sales read model counts go to its queue together, as one task."""
    sends, sales_events = [], []
    for message in messages:
        payload, trace_id = message.payload, message.trace_id
        if message.topic in COMMAND_ROUTES:
            task, queue = COMMAND_ROUTES[message.topic]
            sends.append((task, {"command": payload["command"]}, queue, trace_id))
            continue
        kwargs = {"topic": message.topic, "payload": payload, "message_id": message.pk}
        if message.topic != TOPIC_TICKET_CHECKED_IN:
            sends.append((NOTIFY_BOOKING_TASK, kwargs, NOTIFICATIONS_QUEUE, trace_id))
        if message.topic in SALES_TOPICS:
            sales_events.append({**kwargs, "trace_id": trace_id})
    if sales_events:
        sends.append((PROJECT_SALES_BATCH_TASK, {"events": sales_events}, SALES_QUEUE, ""))
    return sends


def send_tasks_confirmed(sends: list[tuple], timeout: float = 10.0) -> None:
    """Publish Celery tasks ``(name, kwargs, queue)`` or ``(name, kwargs, queue, trace id)``;
    return once RabbitMQ confirmed them all.

    kombu's ``confirm_publish`` waits for each message's confirm before the next publish, so a
    relay of a whole booking batch paid one broker round trip per row. Here every message goes
    out on a fresh channel in confirm mode (delivery tags count from 1) and the confirms are
    awaited once. Raises unless every message was confirmed; the caller sends them again later
    (the consumers are idempotent).
    """
    from amqp.exceptions import MessageNacked
    from celery import current_app as app
    from kombu import Producer

    if not sends:
        return
    confirmed: set[int] = set()
    nacked: list[int] = []

    def on_ack(tag, multiple):
        confirmed.update(range(1, tag + 1) if multiple else (tag,))

    def on_nack(tag, multiple):
        nacked.append(tag)

    with app.pool.acquire(block=True) as conn:
        # A pooled connection RabbitMQ closed (a broker restart) stays closed in the pool
        # until something reconnects it; without this every later round would fail.
        conn.ensure_connection(max_retries=1)
        channel = conn.channel()
        try:
            channel.confirm_select()
            channel.events["basic_ack"].add(on_ack)
            channel.events["basic_nack"].add(on_nack)
            channel.basic_publish = channel._basic_publish  # no wait per message: see below
            producer = Producer(channel)
            for name, kwargs, queue, *trace in sends:
                # Celery's default reprs of the arguments cost about a millisecond per message;
                # the key names say enough to a monitor.
                kwargsrepr = "{" + ", ".join(kwargs) + "}"
                headers = {TRACE_ID: trace[0]} if trace else None  # a row's own, even ""
                app.send_task(
                    name, kwargs=kwargs, queue=queue, producer=producer, retry=False,
                    argsrepr="()", kwargsrepr=kwargsrepr, headers=headers,
                )  # fmt: skip
            deadline = time.monotonic() + timeout
            while len(confirmed) < len(sends) and not nacked:
                conn.drain_events(timeout=max(deadline - time.monotonic(), 0.001))
            if nacked:
                raise MessageNacked(f"RabbitMQ refused {len(nacked)} of {len(sends)} messages")
        finally:
            channel.close()


def relay_messages(ids=None, limit: int = 200) -> int:
    """Send unsent outbox rows (all, or only ``ids``); returns how many went out.

    All rows are published before the broker's confirms are awaited (once), marked sent in
    one UPDATE, and their seat changes pushed as one delta per event and status: relaying a
    batch of bookings costs a few round trips, not a few per row.
    """
    with transaction.atomic():
        skip_commit_flush()  # a lost "sent" mark only means one more (idempotent) relay
        rows = OutboxMessage.objects.select_for_update(skip_locked=True).filter(
            sent_at__isnull=True
        )
        if ids is not None:
            rows = rows.filter(pk__in=ids)
        messages = list(rows.order_by("id")[:limit])
        if not messages:
            return 0
        try:
            send_tasks_confirmed(_tasks_of(messages))
            sent = True
        except Exception:
            log.warning("%s outbox messages not relayed yet", len(messages), exc_info=True)
            sent = False
        attempted = OutboxMessage.objects.filter(pk__in=[m.pk for m in messages])
        if sent:
            attempted.update(attempts=F("attempts") + 1, sent_at=timezone.now())
        else:
            attempted.update(attempts=F("attempts") + 1)
    if sent:
        _push(messages)
    return len(messages) if sent else 0


def _push(messages: list[OutboxMessage]) -> None:
    """WebSocket hints of relayed rows: each buyer's update, one seat delta per event."""
    seat_changes: dict[tuple[int, str], list[int]] = {}
    for message in messages:
        payload = message.payload
        if message.topic in (TOPIC_TICKET_CHECKED_IN, TOPIC_USER_REGISTERED):
            continue  # no booking to push to a buyer or a seat map
        seat_status = _SEAT_STATUS_BY_TOPIC.get(message.topic)
        if seat_status and payload["seat_ids"]:
            key = (payload["event_id"], seat_status)
            seat_changes.setdefault(key, []).extend(payload["seat_ids"])
        realtime.publish_booking_update(payload["buyer_id"], booking_update(payload))
    for (event_id, status), seat_ids in seat_changes.items():
        realtime.publish_seat_changes(event_id, seat_ids, status)
