"""The Celery app shared by the booking worker, the notifier and beat."""

import os

from celery import Celery
from celery.signals import beat_init, worker_init

# Trace ids on messages; Celery's logging left to Django's LOGGING (structured logs).
from ticketing import celery_tracing  # noqa: F401

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ticketing.settings")

app = Celery("ticketing")
app.config_from_object("ticketing.celery_config")
app.autodiscover_tasks(["registration_worker", "notifications", "ticketing", "payments", "sales"])

# Each worker and beat serve their Prometheus metrics (signal handlers of their own).
import ticketing.celery_metrics  # noqa: E402, F401


@worker_init.connect
@beat_init.connect
def declare_broker_topology(sender, **kwargs) -> None:
    """Every exchange, queue and binding exists before a worker consumes or beat publishes."""
    from ticketing.broker import declare_topology

    declare_topology(app)
