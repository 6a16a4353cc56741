"""Celery tasks of the booking worker: thin wrappers around registration_worker.services."""

from celery import shared_task
from django.db.models import Q

from registration_worker import batch, outbox, redrive, services
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


@shared_task(name="registration_worker.redrive_pending_bookings")
def redrive_pending_bookings() -> int:
    return redrive.redrive_pending_bookings()


@shared_task(name="registration_worker.reconcile_sold_seats")
def reconcile_sold_seats() -> None:
    from django.apps import apps

    # Read by model name: this app does not import ticketing (dependency direction).
    event_model = apps.get_model("ticketing", "Event")
    on_sale = event_model.objects.filter(~Q(status="cancelled")).values_list("pk", flat=True)
    services.reconcile_sold_seats(list(on_sale))
