"""Celery configuration (read by ``ticketing/celery.py``); values come from Django settings."""

from django.conf import settings
from kombu import Exchange, Queue

from shared.messaging import (
    BOOKINGS_DLQ,
    BOOKINGS_DLX,
    BOOKINGS_QUEUE,
    NOTIFICATIONS_DLQ,
    NOTIFICATIONS_DLX,
    NOTIFICATIONS_QUEUE,
    PAYMENTS_DLQ,
    PAYMENTS_DLX,
    PAYMENTS_QUEUE,
    PERIODIC_QUEUE,
    SALES_DLQ,
    SALES_DLX,
    SALES_QUEUE,
)

broker_url = settings.CELERY_BROKER_URL
broker_connection_retry_on_startup = True
# Publisher confirms: a publish returns only once RabbitMQ has taken the message.
broker_transport_options = {"confirm_publish": True, "max_retries": 3}

task_serializer = "json"
result_serializer = "json"
accept_content = ["json"]
task_ignore_result = True
result_backend = None

# A booking command survives a worker killed mid-task: acked only after it ran, requeued when
# the worker process dies; the task itself is idempotent by command id.
task_acks_late = True
task_reject_on_worker_lost = True
worker_prefetch_multiplier = 1
worker_detect_quorum_queues = True

task_default_queue = NOTIFICATIONS_QUEUE


def _work_queue(name: str, delivery_limit: int, dead_letters: tuple[str, str]) -> Queue:
    """A quorum queue with a delivery limit, dead-lettered to ``<name>.dlx`` -> ``<name>.dlq``.

    Behind a topic exchange (not direct), so that retries with a countdown go through
    RabbitMQ's native delayed delivery instead of waiting unacknowledged in the worker.
    Declared with everything else by ``ticketing/broker.py`` before the workers start.
    """
    dlx, dlq = dead_letters
    return Queue(
        name,
        Exchange(name, type="topic"),
        routing_key=name,
        queue_arguments={
            "x-queue-type": "quorum",
            "x-delivery-limit": delivery_limit,
            "x-dead-letter-exchange": dlx,
            "x-dead-letter-routing-key": dlq,
        },
    )


task_queues = (
    _work_queue(BOOKINGS_QUEUE, settings.BOOKINGS_DELIVERY_LIMIT, (BOOKINGS_DLX, BOOKINGS_DLQ)),
    _work_queue(
        NOTIFICATIONS_QUEUE,
        settings.NOTIFICATIONS_DELIVERY_LIMIT,
        (NOTIFICATIONS_DLX, NOTIFICATIONS_DLQ),
    ),
    # The sales read model's projector (sales/tasks.py): idempotent by outbox message id.
    _work_queue(SALES_QUEUE, settings.SALES_DELIVERY_LIMIT, (SALES_DLX, SALES_DLQ)),
    _work_queue(PAYMENTS_QUEUE, settings.PAYMENTS_DELIVERY_LIMIT, (PAYMENTS_DLX, PAYMENTS_DLQ)),
    # Beat's ticks: a durable classic queue of their own; a lost tick is repeated by the next.
    Queue(PERIODIC_QUEUE, Exchange(PERIODIC_QUEUE, type="topic"), routing_key=PERIODIC_QUEUE),
)
task_routes = {
    "registration_worker.*": {"queue": BOOKINGS_QUEUE, "routing_key": BOOKINGS_QUEUE},
    "ticketing.reconcile_sold_seats": {"queue": BOOKINGS_QUEUE, "routing_key": BOOKINGS_QUEUE},
    "notifications.*": {"queue": NOTIFICATIONS_QUEUE, "routing_key": NOTIFICATIONS_QUEUE},
    "payments.*": {"queue": PAYMENTS_QUEUE, "routing_key": PAYMENTS_QUEUE},
    "sales.*": {"queue": SALES_QUEUE, "routing_key": SALES_QUEUE},
}
# Undecodable messages go to the dead letters instead of being acked (ticketing/broker.py).
worker_consumer = "ticketing.broker:DeadLetteringConsumer"


def _tick(task: str, every: float) -> dict:
    """A beat entry on the periodic queue; a tick not run within its period is dropped (the
    next one does the same work), so an outage does not leave a pile of them."""
    return {
        "task": task,
        "schedule": every,
        "options": {"queue": PERIODIC_QUEUE, "routing_key": PERIODIC_QUEUE, "expires": every},
    }


beat_schedule = {
    "relay-outbox": _tick("registration_worker.relay_outbox", 5.0),
    "expire-pending-registrations": _tick("registration_worker.expire_pending_registrations", 15.0),
    # Pending bookings whose command is no longer in flight are published again.
    "redrive-pending-bookings": _tick("registration_worker.redrive_pending_bookings", 15.0),
    "reconcile-sold-seats": _tick("ticketing.reconcile_sold_seats", 60.0),
    # Compensate bookings unpaid after their deadline, refund charges that outlived a booking.
    "sweep-payments": _tick("payments.sweep_payments", 10.0),
}
beat_schedule_filename = str(settings.BASE_DIR / "var" / "celerybeat-schedule")
