"""WebSocket consumers: live seat maps (``/ws/events/<id>/``) and a buyer's bookings (``/ws/me/``).

Pushes come from the channel layer (``shared.realtime``); both consumers only translate them
to the client formats in docs/realtime.md. Delivery is at most once: the seat map carries
sequence numbers and answers ``{"type": "resync"}`` with a fresh snapshot.
"""

import asyncio
import contextlib
import json
import logging

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from notifications import seat_feed
from shared.messaging import event_group, user_group

log = logging.getLogger(__name__)

CLOSE_UNAUTHENTICATED = 4401
CLOSE_FORBIDDEN = 4403
CLOSE_NOT_FOUND = 4404


class JsonConsumer(AsyncJsonWebsocketConsumer):
    async def receive(self, text_data=None, bytes_data=None, **kwargs):
        try:
            content = json.loads(text_data) if text_data is not None else None
        except json.JSONDecodeError:
            content = None
        if not isinstance(content, dict):
            await self.send_json({"type": "error", "message": "Send JSON objects."})
            return
        await self.receive_json(content, **kwargs)

    async def refuse(self, code: int) -> None:
        # Accept first: a close before the handshake completes reaches a browser as a bare
        # HTTP 403 (close code 1006), and the client could not tell why it was refused.
        await self.accept()
        await self.close(code=code)


class EventSeatsConsumer(JsonConsumer):
    """Seat status of one event: a snapshot on connect, then batches of deltas."""

    group = None
    flush_task = None

    async def connect(self):
        self.event_id = int(self.scope["url_route"]["kwargs"]["event_id"])
        self.pending: list[dict] = []
        self.snapshot_seq = 0
        user = self.scope.get("user")
        if not await database_sync_to_async(seat_feed.can_watch_event)(user, self.event_id):
            await self.refuse(CLOSE_NOT_FOUND)
            return
        # Join before taking the snapshot so no delta falls between the two.
        self.group = event_group(self.event_id)
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()
        await self.send_snapshot()

    async def disconnect(self, code):
        if self.flush_task is not None:
            self.flush_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.flush_task
        if self.group is not None:
            await self.channel_layer.group_discard(self.group, self.channel_name)

    async def receive_json(self, content, **kwargs):
        if content.get("type") == "resync":
            await self.send_snapshot()
        else:
            await self.send_json({"type": "error", "message": "Unknown message type."})

    async def send_snapshot(self):
        snapshot = await database_sync_to_async(seat_feed.build_snapshot)(self.event_id)
        self.snapshot_seq = snapshot["seq"]
        await self.send_json(snapshot)

    async def seat_delta(self, message):
        """``seat.delta`` from the channel layer: collect, and flush one batch after ~100 ms."""
        self.pending.append(message)
        if self.flush_task is None:
            self.flush_task = asyncio.create_task(self.flush_later())

    async def flush_later(self):
        await asyncio.sleep(seat_feed.BATCH_SECONDS)
        pending, self.pending = self.pending, []
        self.flush_task = None
        batch = seat_feed.delta_batch(pending, self.snapshot_seq)
        if batch is not None:
            await self.send_json(batch)


class MyBookingsConsumer(JsonConsumer):
    """The connected buyer's registration and booking updates; refuses anonymous users."""

    group = None

    async def connect(self):
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.refuse(CLOSE_UNAUTHENTICATED)
            return
        self.user_id = user.pk
        self.group = user_group(user.pk)
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()

    async def disconnect(self, code):
        if self.group is not None:
            await self.channel_layer.group_discard(self.group, self.channel_name)

    async def receive_json(self, content, **kwargs):
        await self.send_json({"type": "error", "message": "This socket only sends."})

    async def booking_update(self, message):
        booking = message.get("booking") or {}
        # Re-check on delivery: only the buyer's own bookings go out on this socket.
        buyer_id = booking.get("buyer_id")
        if buyer_id is not None and str(buyer_id) != str(self.user_id):
            log.warning(
                "dropped booking update for user %s on user %s's socket", buyer_id, self.user_id
            )
            return
        await self.send_json({"type": "booking", "booking": booking})
