"""Registration worker throughput on its own: commands published straight to the queue.

Holds and pending bookings are prepared in-process first (no HTTP), then every
ProcessBookingCommand is published at once and the clock runs until the running worker of
`make run` has turned them all into confirmed or failed bookings.
"""

import time
import uuid
from unittest import mock

from django.contrib.auth import get_user_model
from django.db.models import Max, Min
from django.utils import timezone

from bench import setup
from registration_worker.models import Booking
from registration_worker.outbox import send_tasks_confirmed
from shared.messaging import BOOKINGS_QUEUE, PROCESS_BOOKING_TASK
from ticketing.services import registrations
from ticketing.services.holds import create_hold


def run(commands: int = 600, seats_each: int = 3, timeout: float = 300) -> dict:
    event = setup.create_event(commands * seats_each, mode="queued")
    seats = list(event.seat_map.seats.order_by("id").values_list("id", flat=True))
    setup.buyer_sessions(commands)  # makes sure the buyers exist
    buyers = get_user_model().objects.filter(username__startswith="bench-buyer-")[:commands]
    queued = []
    # Prepare without publishing, so that publishing and draining can be timed on their own.
    # (The request path writes the command to the outbox; captured here instead of relayed.)
    with mock.patch.object(
        registrations, "queue_registration", lambda booking, command: queued.append(command)
    ):
        for i, buyer in enumerate(buyers):
            hold = create_hold(
                user_id=buyer.pk,
                event_id=event.pk,
                seat_ids=seats[i * seats_each : (i + 1) * seats_each],
            )
            registrations.register_hold(
                user_id=buyer.pk, hold_id=hold.id, idempotency_key=uuid.uuid4().hex
            )
    started, started_at = time.monotonic(), timezone.now()
    # All commands in one go, confirms awaited once: the queue fills faster than the worker
    # drains it, so the figure is the worker's and not the publisher's.
    send_tasks_confirmed(
        [(PROCESS_BOOKING_TASK, {"command": c.to_dict()}, BOOKINGS_QUEUE) for c in queued]
    )
    published = time.monotonic() - started
    pending = Booking.objects.filter(event=event, status="pending")
    while pending.exists() and time.monotonic() - started < timeout:
        time.sleep(0.05)
    elapsed = time.monotonic() - started
    confirmed = Booking.objects.filter(event=event, status="confirmed").count()
    # From the worker's own timestamps: the first booking it started to the last it confirmed
    # (the figure above also counts the bench's polling interval).
    span = Booking.objects.filter(event=event).aggregate(
        first=Min("processing_started_at"), last=Max("confirmed_at")
    )
    drained = (span["last"] - started_at).total_seconds() if span["last"] else elapsed
    busy = (span["last"] - span["first"]).total_seconds() if span["first"] else elapsed
    return {
        "commands": len(queued),
        "publish_s": published,
        "confirmed": confirmed,
        "never_final": pending.count(),
        "worker_bookings_per_s": confirmed / elapsed,
        "publish_to_last_confirmed_s": drained,
        "worker_busy_s": busy,
        "worker_busy_bookings_per_s": confirmed / max(busy, 1e-6),
    }


def main(argv=None):
    for key, value in run().items():
        print(f"{key}={value:.2f}" if isinstance(value, float) else f"{key}={value}")
