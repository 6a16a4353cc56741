"""What the seat-map WebSocket sends: snapshots and coalesced batches of seat deltas.

Message shapes are documented in docs/realtime.md. The consumer in ``notifications.consumers``
only moves these between the channel layer and the socket.
"""

import importlib

from shared.access import EventAction
from shared.exceptions import NotFound, PermissionDenied
from shared.realtime import current_sequence
from ticketing.access import access_event
from ticketing.models import Event

# How long deltas are collected before one batch goes out: a flash sale changes thousands of
# seats a second, and one frame per 100 ms is what a browser can comfortably repaint.
BATCH_SECONDS = 0.1


def seat_statuses(event_id: int) -> dict:
    """``{"held": [...], "sold": [...]}`` from ``ticketing.selectors`` (imported when used)."""
    selectors = importlib.import_module("ticketing.selectors")
    return selectors.seat_statuses(event_id)


def build_snapshot(event_id: int) -> dict:
    """A snapshot of the event's seats, stamped with the sequence number it is current at.

    The sequence is read BEFORE the statuses: a change that lands in between is both in the
    snapshot and delivered again as a delta with a higher number, which is harmless (deltas
    carry absolute statuses). Reading it after could stamp a change the snapshot misses.
    Sync (Redis and possibly the database); call through ``database_sync_to_async``.
    """
    seq = current_sequence(event_id)
    statuses = seat_statuses(event_id)
    return {
        "type": "snapshot",
        "seq": seq,
        "seats": {
            "held": sorted(int(s) for s in statuses.get("held", ())),
            "sold": sorted(int(s) for s in statuses.get("sold", ())),
        },
    }


def can_watch_event(user, event_id: int) -> bool:
    """Anyone may watch a published event; a draft only its organizer and admins (sync)."""
    try:
        access_event(
            user, event_id, EventAction.WATCH, Event.objects.only("status", "organizer_id")
        )
    except (NotFound, PermissionDenied):
        return False
    return True


def delta_batch(pending: list[dict], after_seq: int) -> dict | None:
    """One ``deltas`` message from the collected ``seat.delta`` messages, oldest first.

    Deltas the last snapshot already covers (``seq <= after_seq``) are dropped.
    """
    changes = sorted(
        (
            {"seq": m["seq"], "seats": m["seats"], "status": m["status"]}
            for m in pending
            if m["seq"] > after_seq
        ),
        key=lambda change: change["seq"],
    )
    return {"type": "deltas", "changes": changes} if changes else None
