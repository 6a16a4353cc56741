"""Pushes to WebSocket clients.

Seat changes go to a per-event Redis stream beside the seat locks (``shared.seat_changes``):
one script increments the event's sequence number and appends the change, one round trip
and no channel-layer work in the publishing process. Each WebSocket process reads the stream
once and fans it out (``notifications.seat_fanout``). Booking updates for ``/ws/me/`` go
through the channel layer, which delivers at most once. Message shapes: docs/realtime.md.
"""

import asyncio
import logging
import queue
import threading

from channels.layers import get_channel_layer

from shared.locks import seat_locks
from shared.messaging import user_group
from shared.per_process import PerProcess
from shared.seat_changes import SeatChangeLog, sequence_key

log = logging.getLogger(__name__)

BOOKING_UPDATE = "booking.update"
__all__ = ["current_sequence", "publish_booking_update", "publish_seat_changes", "sequence_key"]

_log: SeatChangeLog | None = None
_log_lock = threading.Lock()


def seat_change_log() -> SeatChangeLog:
    """The seat-change log on the seat-lock Redis (``settings.REDIS_URL``)."""
    global _log
    if _log is None:
        with _log_lock:
            if _log is None:
                _log = SeatChangeLog(seat_locks().redis)
    return _log


def current_sequence(event_id: int) -> int:
    return seat_change_log().current(event_id)


class _BackgroundSender:
    """One sender per process: a daemon thread with an event loop sending to the channel layer.

    ``async_to_sync(group_send)`` costs milliseconds per call (a loop hop and, with
    channels-redis, connections bound to that loop); a request cannot afford it. Pushes are
    hints, so the request only enqueues them; one coroutine sends them in order. When the queue
    is full (the channel layer is down or far behind) new pushes are dropped and logged.
    """

    MAX_PENDING = 10_000

    def __init__(self):
        self.pending: queue.Queue = queue.Queue(maxsize=self.MAX_PENDING)
        threading.Thread(target=self._run, name="realtime", daemon=True).start()

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        layer = get_channel_layer()
        while True:
            group, message = self.pending.get()
            try:
                loop.run_until_complete(layer.group_send(group, message))
            except Exception as exc:
                log.warning("realtime push to %s failed: %s", group, exc)

    def send(self, group: str, message: dict) -> None:
        try:
            self.pending.put_nowait((group, message))
        except queue.Full:
            log.warning("realtime queue full; dropped a push to %s", group)


_background = PerProcess(_BackgroundSender)


def publish_seat_changes(event_id: int, seat_ids, status: str) -> None:
    """Tell everyone watching ``event_id`` that ``seat_ids`` are now ``status``.

    ``status`` is ``available``, ``held`` or ``sold``. One synchronous Redis round trip. A
    failure is logged, never raised: the change it reports has already happened, and clients
    resync from a snapshot.
    """
    seat_ids = [int(s) for s in seat_ids]
    if not seat_ids:
        return
    try:
        seat_change_log().append(event_id, seat_ids, status)
    except Exception:
        log.warning("seat change for event %s not logged", event_id, exc_info=True)


def publish_booking_update(user_id: int, booking: dict) -> None:
    """Tell a buyer's open connections that one of their registrations changed state."""
    try:
        _background.get().send(user_group(user_id), {"type": BOOKING_UPDATE, "booking": booking})
    except Exception:
        log.warning("booking push for user %s failed", user_id, exc_info=True)
