"""The projector's Celery task on the ``sales`` queue (``projector`` in the Procfile).

Contract: the outbox relay sends ``shared.messaging.PROJECT_SALES_TASK`` with JSON kwargs
``topic``, ``payload`` and ``message_id`` (the outbox row id) for every topic in
``SALES_TOPICS``. Acked after it ran and requeued if the worker dies (the Celery settings);
applying twice is harmless (``projector.apply_message``).
"""

from celery import shared_task
from django.db import OperationalError

from sales.projector import apply_message
from shared.messaging import PROJECT_SALES_TASK


@shared_task(
    name=PROJECT_SALES_TASK,
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
def project_event(topic: str, payload: dict, message_id: int) -> bool:
    return apply_message(message_id=message_id, topic=topic, payload=payload)
