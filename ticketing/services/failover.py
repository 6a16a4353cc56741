"""After a Redis Cluster failover: bring the event's sold set back up to PostgreSQL.

A replica takes over a dead master with what it had received, so writes the master
acknowledged in its last moments (seats moved to the sold set, holds) can be gone. PostgreSQL's
unique index still refuses a double sale, but a sold seat missing from the sold set could be
held again and its buyer would only learn at registration that it was taken. So each process
remembers which node served each event's slot; when its cluster client has learnt a new one,
the event's sold set is topped up from PostgreSQL's live tickets (the rebuild that also follows
a FLUSHALL, additive here because the set exists) before the hold goes on.

Nothing to do on a single Redis: ``slot_owner`` is None there.
"""

from __future__ import annotations

import logging
import threading

from registration_worker.services import reconcile_sold_seats
from shared.locks import seat_locks

log = logging.getLogger(__name__)

_owners: dict[int, str] = {}  # event id -> the node last seen serving its slot
_lock = threading.Lock()


def resync_after_failover(event_id: int) -> bool:
    """Top up the event's sold set from PostgreSQL if its slot moved to another node since
    this process last looked; True when it did."""
    owner = seat_locks().slot_owner(event_id)
    if owner is None:
        return False
    previous = _owners.get(event_id)
    if previous == owner:
        return False
    with _lock:
        if _owners.get(event_id) == owner:
            return False
        if previous is not None:
            log.warning("event %s: slot moved from %s to %s; resyncing", event_id, previous, owner)
            reconcile_sold_seats(event_ids=[event_id])
        _owners[event_id] = owner  # only once the resync went through
    return previous is not None
