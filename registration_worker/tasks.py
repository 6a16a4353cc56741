"""Celery tasks of the booking worker: thin wrappers around registration_worker.services."""

from celery import shared_task
from django.db.models import Q

from registration_worker import outbox, services
from shared.contracts import ProcessBookingCommand
from shared.messaging import PROCESS_BOOKING_TASK


@shared_task(name=PROCESS_BOOKING_TASK, acks_late=True, reject_on_worker_lost=True)
def process_booking(command: dict) -> str | None:
    booking = services.process_booking(ProcessBookingCommand.from_dict(command))
    return booking.status if booking else None


@shared_task(name="registration_worker.relay_outbox")
def relay_outbox() -> int:
    return outbox.relay_messages()


@shared_task(name="registration_worker.expire_pending_registrations")
def expire_pending_registrations() -> int:
    return services.expire_stale_registrations()


@shared_task(name="registration_worker.reconcile_sold_seats")
def reconcile_sold_seats() -> None:
    from django.apps import apps

    # Read by model name: this app does not import ticketing (dependency direction).
    event_model = apps.get_model("ticketing", "Event")
    on_sale = event_model.objects.filter(~Q(status="cancelled")).values_list("pk", flat=True)
    services.reconcile_sold_seats(list(on_sale))
