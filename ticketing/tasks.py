"""Periodic work that needs to know which events exist (the booking side does not)."""

from celery import shared_task

from registration_worker.services import reconcile_sold_seats as reconcile_events
from ticketing.selectors import event_ids_not_cancelled


@shared_task(name="ticketing.reconcile_sold_seats")
def reconcile_sold_seats() -> None:
    """Bring Redis's sold sets up to PostgreSQL for every event that is not cancelled."""
    reconcile_events(event_ids=event_ids_not_cancelled())
