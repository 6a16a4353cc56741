"""Re-driving pending bookings whose command is no longer in flight.

A queued registration is accepted once its pending booking and its ProcessBookingCommand
(an outbox row) commit together; the relay publishes the command with publisher confirms and
the worker acks it only after a business outcome. Should a command still go missing (a
message dead-lettered past its delivery limit, a broker that lost it), the booking would stay
pending until its hold expired. This beat task publishes such commands again: a queued
booking still pending ``BOOKING_REDRIVE_AFTER_SECONDS`` after its command was last published,
while no command waits in the ``bookings`` queue (a backlog may still hold it). The worker is
idempotent by booking id, so a command that was only slow is booked once all the same.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from registration_worker.models import Booking, OutboxMessage
from registration_worker.outbox import relay_messages, skip_commit_flush
from shared.enums import BookingSource, BookingStatus
from shared.messaging import BOOKINGS_QUEUE, TOPIC_PROCESS_BOOKING

log = logging.getLogger(__name__)


def redrive_pending_bookings(*, limit: int = 500) -> int:
    """Publish again the commands of stuck pending bookings; returns how many."""
    cutoff = timezone.now() - timedelta(seconds=settings.BOOKING_REDRIVE_AFTER_SECONDS)
    stuck = list(
        Booking.objects.filter(
            status=BookingStatus.PENDING, source=BookingSource.QUEUED, created_at__lt=cutoff
        ).values_list("pk", flat=True)[:limit]
    )
    if not stuck or commands_waiting() != 0:
        return 0
    with transaction.atomic():
        skip_commit_flush()  # losing this mark in a crash only delays the re-drive
        # The outbox has no index on the booking id: this scan runs only when something is stuck.
        rows = list(
            OutboxMessage.objects.select_for_update(skip_locked=True)
            .filter(
                topic=TOPIC_PROCESS_BOOKING,
                payload__booking_id__in=[str(pk) for pk in stuck],
                sent_at__lt=cutoff,
            )
            .values_list("pk", flat=True)
        )
        OutboxMessage.objects.filter(pk__in=rows).update(sent_at=None)
    if rows:
        log.warning("re-driving %s pending bookings whose command is not in flight", len(rows))
        relay_messages(rows, limit=len(rows))
    return len(rows)


def commands_waiting() -> int | None:
    """Commands ready in the ``bookings`` queue (None: the broker did not answer)."""
    from celery import current_app

    try:
        with current_app.connection_for_read() as conn:
            return conn.default_channel.queue_declare(BOOKINGS_QUEUE, passive=True)[1]
    except Exception as exc:  # the relay could not publish either: next tick
        log.info("bookings queue depth unknown (%s)", exc)
        return None
