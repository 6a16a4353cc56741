"""Pushes to WebSocket clients through the channel layer.

channels-redis delivers at most once, so every seat delta carries a per-event sequence number
(kept in Redis); a client that sees a gap asks for a fresh snapshot. REST stays the truth.
Message shapes are documented in docs/realtime.md.
"""

import asyncio
import logging
import os
import queue
import threading

import redis
from channels.layers import get_channel_layer
from django.conf import settings

from shared.messaging import event_group, user_group
from shared.redis_clients import redis_client

log = logging.getLogger(__name__)

SEAT_DELTA = "seat.delta"
BOOKING_UPDATE = "booking.update"


def _sequences() -> redis.Redis:
    return redis_client(settings.CHANNEL_LAYER_REDIS_URL)


def sequence_key(event_id: int) -> str:
    return f"tk:{{evt:{event_id}}}:seq"


def current_sequence(event_id: int) -> int:
    return int(_sequences().get(sequence_key(event_id)) or 0)


class _BackgroundSender:
    """One sender per process: a daemon thread with an event loop sending to the channel layer.

    ``async_to_sync(group_send)`` costs milliseconds per call (a loop hop and, with
    channels-redis, connections bound to that loop); the hold path cannot afford it. Pushes are
    hints, so the request only enqueues them; one coroutine sends them in order. When the queue
    is full (the channel layer is down or far behind) new pushes are dropped and logged.
    """

    MAX_PENDING = 10_000

    def __init__(self):
        self.pid = os.getpid()
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


_sender: _BackgroundSender | None = None
_sender_lock = threading.Lock()


def _background() -> _BackgroundSender:
    global _sender
    if _sender is None or _sender.pid != os.getpid():  # a forked child needs its own thread
        with _sender_lock:
            if _sender is None or _sender.pid != os.getpid():
                _sender = _BackgroundSender()
    return _sender


def publish_seat_changes(event_id: int, seat_ids, status: str) -> None:
    """Tell everyone watching ``event_id`` that ``seat_ids`` are now ``status``.

    ``status`` is ``available``, ``held`` or ``sold``. A failed push is logged, never raised:
    the booking it reports has already happened and clients resync from the snapshot.
    """
    seat_ids = [int(s) for s in seat_ids]
    if not seat_ids:
        return
    try:
        seq = _sequences().incr(sequence_key(event_id))
        _background().send(
            event_group(event_id),
            {"type": SEAT_DELTA, "seq": seq, "seats": seat_ids, "status": status},
        )
    except Exception:
        log.warning("seat push for event %s failed", event_id, exc_info=True)


def publish_booking_update(user_id: int, booking: dict) -> None:
    """Tell a buyer's open connections that one of their registrations changed state."""
    try:
        _background().send(user_group(user_id), {"type": BOOKING_UPDATE, "booking": booking})
    except Exception:
        log.warning("booking push for user %s failed", user_id, exc_info=True)
