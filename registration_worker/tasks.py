"""Celery tasks of the booking worker: thin wrappers around registration_worker.services."""

from celery import shared_task

from registration_worker import batch, outbox, services
from shared.contracts import ProcessBookingCommand
from shared.messaging import PROCESS_BOOKING_TASK


# The worker does not run this body per message: its Strategy buffers the commands and books
# them in batches (registration_worker/batching.py). The body serves direct calls.
@shared_task(
    name=PROCESS_BOOKING_TASK,
    acks_late=True,
    reject_on_worker_lost=True,
    Strategy="registration_worker.batching:batching_strategy",
)
def process_booking(command: dict) -> str | None:
    command = ProcessBookingCommand.from_dict(command)
    return batch.process_bookings([command])[command.booking_id]


@shared_task(name="registration_worker.relay_outbox")
def relay_outbox() -> int:
    return outbox.relay_messages()


@shared_task(name="registration_worker.expire_pending_registrations")
def expire_pending_registrations() -> int:
    return services.expire_stale_registrations()
