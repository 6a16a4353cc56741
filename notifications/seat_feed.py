"""What the seat-map WebSocket sends: snapshots and coalesced batches of seat deltas.

Message shapes are documented in docs/realtime.md. The deltas come from the seat-change
stream through ``notifications.seat_fanout``.
"""

import time
from urllib.parse import parse_qs

from shared.access import EventAction
from shared.exceptions import NotFound, PermissionDenied
from shared.realtime import current_sequence
from ticketing.access import access_event
from ticketing.models import Event
from ticketing.selectors import seat_statuses


def build_snapshot(event_id: int) -> dict:
    """A snapshot of the event's seats, stamped with the sequence number it is current at.

    The sequence is read BEFORE the statuses: a change that lands in between is both in the
    snapshot and delivered again as a delta with a higher number, which is harmless (deltas
    carry absolute statuses). Reading it after could stamp a change the snapshot misses.
    Sync (Redis and possibly the database); call through ``database_sync_to_async``.
    """
    seq = current_sequence(event_id)
    cached = _recent.get(event_id)
    # A crowd connecting at once (a sale opening, a ws process restarting) would read every
    # seat of the event once per socket; while nothing was announced, one read serves them.
    if cached is not None and cached[1]["seq"] == seq and time.monotonic() - cached[0] < 1:
        return cached[1]
    statuses = seat_statuses(event_id)
    snapshot = {
        "type": "snapshot",
        "seq": seq,
        "seats": {
            "held": sorted(int(s) for s in statuses.get("held", ())),
            "sold": sorted(int(s) for s in statuses.get("sold", ())),
        },
    }
    _recent[event_id] = (time.monotonic(), snapshot)
    return snapshot


# event id -> (when built, snapshot): the last snapshot built in this process.
_recent: dict[int, tuple[float, dict]] = {}


def can_watch_event(user, event_id: int) -> bool:
    """Anyone may watch a published event; a draft only its organizer and admins (sync)."""
    try:
        access_event(
            user, event_id, EventAction.WATCH, Event.objects.only("status", "organizer_id")
        )
    except (NotFound, PermissionDenied):
        return False
    return True


def since_of(scope) -> int | None:
    """The ``?since=<seq>`` of a reconnecting client (None: it wants a snapshot)."""
    values = parse_qs(scope.get("query_string", b"").decode("latin-1")).get("since")
    if not values or not values[-1].isdigit():
        return None
    return int(values[-1])
