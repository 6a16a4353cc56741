"""Running a booking batch through our own outages: retry with backoff, never ack as done.

A Redis, PostgreSQL or broker error inside a batch says nothing about the bookings: the batch
runs again after a wait (0.5 s, 1 s, 2 s ... capped at ``BOOKING_RETRY_MAX_WAIT_SECONDS``)
while its messages stay unacknowledged, so a worker killed meanwhile still gets them
redelivered. Before each wait the holds' leases are extended (when Redis answers), so the
buyer does not lose the seats to the outage. Once ``BOOKING_RETRY_BUDGET_SECONDS`` are spent
the error is raised and the caller hands the messages back to RabbitMQ (requeue); the
queue's delivery limit then ends in ``bookings.dlq``, where they can be replayed.

Retrying in the worker rather than requeueing at once: an immediate requeue is redelivered
within milliseconds, so a 5 s outage would burn the whole delivery limit and dead-letter
every command of the backlog.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from typing import TypeVar

from django.conf import settings

from shared.locks import Hold, seat_locks
from shared.transient import TRANSIENT_ERRORS, drop_dead_database_connections

log = logging.getLogger(__name__)

T = TypeVar("T")
FIRST_WAIT_SECONDS = 0.5


def run_through_outages(
    work: Callable[[], T], *, holds: Sequence[Hold], budget_seconds: float | None = None
) -> T:
    """``work()``, run again after each transient error until ``budget_seconds`` are spent."""
    if budget_seconds is None:
        budget_seconds = settings.BOOKING_RETRY_BUDGET_SECONDS
    give_up_at = time.monotonic() + budget_seconds
    wait = FIRST_WAIT_SECONDS
    attempt = 1
    while True:
        try:
            return work()
        except TRANSIENT_ERRORS as exc:
            if time.monotonic() + wait > give_up_at:
                raise
            log.warning(
                "booking of %s holds hit %s: %s; attempt %s in %.1f s",
                len(holds), type(exc).__name__, str(exc).strip()[:200], attempt + 1, wait,
            )  # fmt: skip
            drop_dead_database_connections()
            time.sleep(wait)
            extend_leases(holds)
            attempt += 1
            wait = min(wait * 2, settings.BOOKING_RETRY_MAX_WAIT_SECONDS)


def extend_leases(holds: Sequence[Hold]) -> None:
    """Keep the holds alive across the next wait, if Redis answers (it may be what is down)."""
    if not holds:
        return
    try:
        seat_locks().check_many(holds)  # extends every hold that still owns its seats
    except TRANSIENT_ERRORS as exc:
        log.info("could not extend %s leases (%s)", len(holds), type(exc).__name__)
