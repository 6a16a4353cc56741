"""Relay of outbox rows: to the notifications queue and to WebSocket clients.

Rows are written in the transaction of the change they report; ``relay_after_commit`` sends
them as soon as that transaction commits and the periodic ``relay_outbox`` task sweeps what a
crash or a broker outage left behind. Consumers are idempotent, so a row relayed twice (a crash
after publishing, before marking it sent) does no harm.
"""

import logging

from django.db import connection, transaction
from django.utils import timezone

from registration_worker.models import OutboxMessage
from shared import realtime
from shared.messaging import (
    COMMAND_ROUTES,
    NOTIFICATIONS_QUEUE,
    NOTIFY_BOOKING_TASK,
    TOPIC_BOOKING_CANCELLED,
    TOPIC_BOOKING_CONFIRMED,
    TOPIC_CHARGE_BOOKING,
)

log = logging.getLogger(__name__)

_SEAT_STATUS_BY_TOPIC = {
    TOPIC_BOOKING_CONFIRMED: "sold",
    TOPIC_CHARGE_BOOKING: "sold",  # the tickets exist while the payment runs
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


def _dispatch(message: OutboxMessage) -> None:
    from celery import current_app as app

    payload = message.payload
    if message.topic in COMMAND_ROUTES:
        task, queue = COMMAND_ROUTES[message.topic]
        app.send_task(task, kwargs={"command": payload["command"]}, queue=queue)
    else:
        app.send_task(
            NOTIFY_BOOKING_TASK,
            kwargs={"topic": message.topic, "payload": payload, "message_id": message.pk},
            queue=NOTIFICATIONS_QUEUE,
        )
    seat_status = _SEAT_STATUS_BY_TOPIC.get(message.topic)
    if seat_status and payload["seat_ids"]:
        realtime.publish_seat_changes(payload["event_id"], payload["seat_ids"], seat_status)
    realtime.publish_booking_update(payload["buyer_id"], booking_update(payload))


def relay_messages(ids=None, limit: int = 200) -> int:
    """Send unsent outbox rows (all, or only ``ids``); returns how many went out."""
    sent = 0
    with transaction.atomic():
        skip_commit_flush()  # a lost "sent" mark only means one more (idempotent) relay
        rows = OutboxMessage.objects.select_for_update(skip_locked=True).filter(
            sent_at__isnull=True
        )
        if ids is not None:
            rows = rows.filter(pk__in=ids)
        for message in rows.order_by("id")[:limit]:
            message.attempts += 1
            try:
                _dispatch(message)
            except Exception:
                log.warning("outbox message %s not relayed yet", message.pk, exc_info=True)
                message.save(update_fields=["attempts"])
                continue
            message.sent_at = timezone.now()
            message.save(update_fields=["attempts", "sent_at"])
            sent += 1
    return sent
