"""WebSocket consumers: live seat maps (``/ws/events/<id>/``) and a buyer's bookings (``/ws/me/``).

Seat changes come from the process's stream reader (``notifications.seat_fanout``), booking
updates from the channel layer (``shared.realtime``); both consumers only translate them to the
client formats in docs/realtime.md. The seat map carries sequence numbers and answers
``{"type": "resync"}`` with a fresh snapshot.
"""

import json
import logging

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from notifications import seat_fanout, seat_feed
from notifications.ws_server import PREPARED_FRAME
from shared import metrics
from shared.messaging import user_group

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
    """Seat status of one event: a snapshot on connect (or a replay from ``?since=<seq>``),
    then batches of deltas from this process's ``SeatFanout``."""

    # Seat changes come from the process's stream reader, not the channel layer: no channel
    # (and no channels-redis receive) per watcher.
    channel_layer_alias = "none"
    watcher = None

    async def connect(self):
        self.event_id = int(self.scope["url_route"]["kwargs"]["event_id"])
        user = self.scope.get("user")
        if not await database_sync_to_async(seat_feed.can_watch_event)(user, self.event_id):
            await self.refuse(CLOSE_NOT_FOUND)
            return
        await self.accept()
        feed = seat_fanout.fanout()
        self.watcher = seat_fanout.Watcher(
            feed,
            self.event_id,
            self.send_text,
            self.take_snapshot,
            # uvicorn with notifications.ws_server's protocol: batches skip ASGI.
            write_frame=self.scope.get("extensions", {}).get(PREPARED_FRAME),
        )
        await feed.join(self.watcher, since=seat_feed.since_of(self.scope))

    async def disconnect(self, code):
        if self.watcher is not None:
            await self.watcher.fanout.leave(self.watcher)

    async def receive_json(self, content, **kwargs):
        if content.get("type") == "resync" and self.watcher is not None:
            self.watcher.request_snapshot()
        else:
            await self.send_json({"type": "error", "message": "Unknown message type."})

    async def send_text(self, text: str) -> None:
        # The hot path (a frame per socket per window): straight to the ASGI send.
        await self.base_send({"type": "websocket.send", "text": text})

    async def take_snapshot(self) -> dict:
        return await database_sync_to_async(seat_feed.build_snapshot)(self.event_id)


class MyBookingsConsumer(JsonConsumer):
    """The connected buyer's registration and booking updates; refuses anonymous users."""

    group = None
    counted = False  # in ticketing_ws_connections

    async def connect(self):
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.refuse(CLOSE_UNAUTHENTICATED)
            return
        self.user_id = user.pk
        self.group = user_group(user.pk)
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()
        self.counted = True
        metrics.WS_CONNECTIONS.labels("bookings").inc()

    async def disconnect(self, code):
        if self.counted:
            self.counted = False
            metrics.WS_CONNECTIONS.labels("bookings").dec()
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
