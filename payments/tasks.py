"""Celery tasks of the payment worker (``celery worker -Q payments``): thin, idempotent."""

import logging

from celery import shared_task
from django.conf import settings

from payments import services
from shared.contracts import ChargeBooking
from shared.logs import traced
from shared.messaging import CHARGE_BOOKING_TASK

log = logging.getLogger(__name__)


# Unknown outcomes retry with full-jitter exponential backoff (1 s, 2 s, 4 s ... capped at
# PAYMENT_RETRY_BACKOFF_MAX), through RabbitMQ's native delayed delivery. Each retry looks the
# charge up before it charges. The payment deadline ends the retries: once the sweep has
# compensated the booking, the next retry finds it settled and exits.
@shared_task(
    name=CHARGE_BOOKING_TASK,
    bind=True,
    acks_late=True,
    reject_on_worker_lost=True,
    autoretry_for=(services.PaymentPending,),
    retry_backoff=1,
    retry_backoff_max=settings.PAYMENT_RETRY_BACKOFF_MAX,
    retry_jitter=True,
    max_retries=100,
)
def charge_booking(self, command: dict) -> str:
    charge = ChargeBooking.from_dict(command)
    # The message header carries it too; the command's own survives any republishing.
    with traced(charge.trace_id):
        outcome = services.perform_charge(booking_id=charge.booking_id)
        log.info(
            "charge of booking %s: %s (try %s)",
            charge.booking_id,
            outcome,
            self.request.retries + 1,
        )
    return str(outcome)


@shared_task(name="payments.sweep_payments")
def sweep_payments() -> dict:
    return services.sweep_payments()
