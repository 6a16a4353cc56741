"""The Celery app shared by the booking worker, the notifier and beat."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ticketing.settings")

app = Celery("ticketing")
app.config_from_object("ticketing.celery_config")
app.autodiscover_tasks(["registration_worker", "notifications", "ticketing", "payments", "sales"])
