"""The notifier's Celery task, fed by the outbox relay after a booking transaction commits.

Contract (the producer is ``registration_worker``'s outbox relay): task name
``shared.messaging.NOTIFY_BOOKING_TASK`` on the ``notifications`` queue, JSON kwargs
``topic`` (an outbox topic), ``payload`` (``booking_id``, ``event_id``, ``buyer_id``, ``status``,
``reason``, ``seat_ids``, ``tracking_id``; for ``UserRegistered`` only ``user_id``) and
``message_id`` (the outbox row id). The relay pushes the WebSocket updates itself; this task only
sends email.
"""

import logging
import uuid

from celery import shared_task

from notifications import emails
from shared.enums import FailureReason
from shared.messaging import (
    NOTIFY_BOOKING_TASK,
    TOPIC_BOOKING_CANCELLED,
    TOPIC_BOOKING_CONFIRMED,
    TOPIC_BOOKING_FAILED,
    TOPIC_USER_REGISTERED,
)

log = logging.getLogger(__name__)

_SENDERS = {
    TOPIC_BOOKING_CONFIRMED: emails.send_booking_confirmation,
    TOPIC_BOOKING_CANCELLED: emails.send_booking_cancellation,
    TOPIC_BOOKING_FAILED: emails.send_payment_declined,
}
# Failed registrations of other kinds (a seat taken, a hold expired) reach the buyer over the
# WebSocket while they watch; only a declined payment is worth an email.
_MAILED_FAILURES = {FailureReason.PAYMENT_DECLINED}

# Retries: 1 s, 2 s, 4 s ... capped at 10 min, each drawn uniformly below that cap (full jitter)
# so a recovering SMTP server is not hit by every waiting mail at once. Ten retries span about
# an hour. The cap stays below RabbitMQ's consumer_timeout (30 min): a retry waits in the
# worker as an unacknowledged message.
MAX_RETRIES = 10
RETRY_BACKOFF_SECONDS = 1
RETRY_BACKOFF_MAX_SECONDS = 600


@shared_task(
    name=NOTIFY_BOOKING_TASK,
    bind=True,
    autoretry_for=emails.TRANSIENT_ERRORS,
    retry_backoff=RETRY_BACKOFF_SECONDS,
    retry_backoff_max=RETRY_BACKOFF_MAX_SECONDS,
    retry_jitter=True,
    max_retries=MAX_RETRIES,
    acks_late=True,
    ignore_result=True,
)
def handle_booking_event(self, topic: str, payload: dict, message_id: int | None = None) -> str:
    """Send the email an outbox event calls for; returns what happened (for logs and tests)."""
    payload = payload or {}
    if topic == TOPIC_USER_REGISTERED:
        return str(emails.send_welcome(payload.get("user_id")))
    send = _SENDERS.get(topic)
    booking_id = payload.get("booking_id")
    if topic == TOPIC_BOOKING_FAILED and payload.get("reason") not in _MAILED_FAILURES:
        send = None
    if send is None:
        log.debug("outbox message %s: no email for topic %s", message_id, topic)
        return "ignored"
    try:
        booking_id = uuid.UUID(str(booking_id))
    except ValueError:
        log.error("outbox message %s (%s) has no valid booking_id: %r", message_id, topic, payload)
        return "ignored"
    outcome = send(booking_id)
    log.info(
        "outbox message %s: %s for booking %s (tracking %s, attempt %s)",
        message_id,
        outcome,
        booking_id,
        payload.get("tracking_id", ""),
        self.request.retries + 1,
    )
    return str(outcome)
