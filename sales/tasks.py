"""The projector's Celery task on the ``sales`` queue (``projector`` in the Procfile).

Contract: the outbox relay sends ``shared.messaging.PROJECT_SALES_BATCH_TASK`` with JSON kwargs
``events``, a list of ``topic``, ``payload``, ``message_id`` (the outbox row id) and
``trace_id``, one per row of a topic in ``SALES_TOPICS`` relayed in that round;
``PROJECT_SALES_TASK`` takes one event (messages published before the batches). Acked after it
ran and requeued if the worker dies (the Celery settings); applying twice is harmless
(``projector.apply_message``).
"""

from celery import shared_task
from django.db import OperationalError

from sales.projector import apply_message, apply_messages
from shared.messaging import PROJECT_SALES_BATCH_TASK, PROJECT_SALES_TASK

_DELIVERY = dict(
    acks_late=True,
    # An event that fails for a reason other than the database being away is not dropped: it
    # is rejected and RabbitMQ dead-letters it to sales.dlq (a rebuild also recounts it).
    acks_on_failure_or_timeout=False,
    autoretry_for=(OperationalError,),
    retry_backoff=1,
    retry_backoff_max=60,
    retry_jitter=True,
    max_retries=None,
    ignore_result=True,
)


@shared_task(name=PROJECT_SALES_BATCH_TASK, **_DELIVERY)
def project_events(events: list[dict]) -> int:
    return apply_messages(events)


@shared_task(name=PROJECT_SALES_TASK, **_DELIVERY)
def project_event(topic: str, payload: dict, message_id: int) -> bool:
    return apply_message(message_id=message_id, topic=topic, payload=payload)
