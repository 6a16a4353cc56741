"""Celery tasks of the payment worker (``celery worker -Q payments``): thin, idempotent."""

import logging

from celery import shared_task
from celery.signals import worker_ready
from django.conf import settings
from kombu import Exchange, Queue

from payments import services
from shared.contracts import ChargeBooking
from shared.messaging import CHARGE_BOOKING_TASK, PAYMENTS_DLQ, PAYMENTS_DLX, PAYMENTS_QUEUE

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
    outcome = services.perform_charge(booking_id=charge.booking_id)
    log.info(
        "charge of booking %s: %s (trace %s, try %s)",
        charge.booking_id,
        outcome,
        charge.trace_id,
        self.request.retries + 1,
    )
    return str(outcome)


@shared_task(name="payments.sweep_payments")
def sweep_payments() -> dict:
    return services.sweep_payments()


@worker_ready.connect
def declare_dead_letter_queue(sender, **kwargs) -> None:
    """A payments worker makes sure the queue's dead-letter exchange and queue exist."""
    if PAYMENTS_QUEUE not in sender.app.amqp.queues.consume_from:
        return
    with sender.app.connection_for_write() as conn:
        Queue(
            PAYMENTS_DLQ,
            Exchange(PAYMENTS_DLX, type="direct"),
            routing_key=PAYMENTS_DLQ,
            queue_arguments={"x-queue-type": "quorum"},
        )(conn.default_channel).declare()
