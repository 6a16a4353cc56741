"""Celery configuration (read by ``ticketing/celery.py``); values come from Django settings."""

from django.conf import settings
from kombu import Exchange, Queue

from shared.messaging import (
    BOOKINGS_DLQ,
    BOOKINGS_DLX,
    BOOKINGS_QUEUE,
    NOTIFICATIONS_QUEUE,
    PAYMENTS_DLQ,
    PAYMENTS_DLX,
    PAYMENTS_QUEUE,
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
task_queues = (
    Queue(
        BOOKINGS_QUEUE,
        Exchange(BOOKINGS_QUEUE, type="direct"),
        routing_key=BOOKINGS_QUEUE,
        queue_arguments={
            "x-queue-type": "quorum",
            "x-delivery-limit": settings.BOOKINGS_DELIVERY_LIMIT,
            "x-dead-letter-exchange": BOOKINGS_DLX,
            "x-dead-letter-routing-key": BOOKINGS_DLQ,
        },
    ),
    Queue(
        NOTIFICATIONS_QUEUE,
        Exchange(NOTIFICATIONS_QUEUE, type="direct"),
        routing_key=NOTIFICATIONS_QUEUE,
    ),
    # A topic exchange (not direct) so that the payment task's retries with a countdown use
    # RabbitMQ's native delayed delivery instead of waiting unacknowledged in the worker.
    Queue(
        PAYMENTS_QUEUE,
        Exchange(PAYMENTS_QUEUE, type="topic"),
        routing_key=PAYMENTS_QUEUE,
        queue_arguments={
            "x-queue-type": "quorum",
            "x-delivery-limit": settings.PAYMENTS_DELIVERY_LIMIT,
            "x-dead-letter-exchange": PAYMENTS_DLX,
            "x-dead-letter-routing-key": PAYMENTS_DLQ,
        },
    ),
)
task_routes = {
    "registration_worker.*": {"queue": BOOKINGS_QUEUE, "routing_key": BOOKINGS_QUEUE},
    "ticketing.reconcile_sold_seats": {"queue": BOOKINGS_QUEUE, "routing_key": BOOKINGS_QUEUE},
    "notifications.*": {"queue": NOTIFICATIONS_QUEUE, "routing_key": NOTIFICATIONS_QUEUE},
    "payments.*": {"queue": PAYMENTS_QUEUE, "routing_key": PAYMENTS_QUEUE},
}

beat_schedule = {
    "relay-outbox": {"task": "registration_worker.relay_outbox", "schedule": 5.0},
    "expire-pending-registrations": {
        "task": "registration_worker.expire_pending_registrations",
        "schedule": 15.0,
    },
    "reconcile-sold-seats": {"task": "ticketing.reconcile_sold_seats", "schedule": 60.0},
    # Compensate bookings unpaid after their deadline, refund charges that outlived a booking.
    "sweep-payments": {"task": "payments.sweep_payments", "schedule": 10.0},
}
beat_schedule_filename = str(settings.BASE_DIR / "var" / "celerybeat-schedule")
