"""Live seat maps at crowd scale: real uvicorn processes, hundreds of real WebSocket clients.

The seat changes go through the real publishers (``shared.realtime``, the hold, registration
and cancellation services) into the per-event Redis stream; each uvicorn process reads it once
and fans it out (``notifications.seat_fanout``).
"""

import asyncio
import base64
import contextlib
import json
import os
import socket
import struct
import sys
import threading
import time
import uuid

import orjson
import pytest
from django.conf import settings
from websockets.asyncio.client import connect

from infrastructure.processes import ManagedProcess, free_port, port_accepts
from registration_worker.services import cancel_booking
from shared.locks import seat_locks
from shared.realtime import current_sequence, publish_seat_changes
from shared.seat_changes import stream_key
from tests.conftest import ROOT, test_process_env
from ticketing.models import Event
from ticketing.services.event_rules import publish_event_rules
from ticketing.services.holds import create_hold
from ticketing.services.registrations import register_hold

pytestmark = pytest.mark.django_db(transaction=True)  # the servers must see the rows

ORIGIN = "http://localhost:8000"
# As infrastructure/Procfile: batches are written to the sockets as prepared frames.
PREPARED = "notifications.ws_server:PreparedFrameProtocol"


def start_uvicorn(env_extra=None, ws=PREPARED) -> tuple[ManagedProcess, str]:
    port = free_port()
    command = [sys.executable, "-m", "uvicorn", "ticketing.asgi:application"]
    command += ["--port", str(port), "--host", "127.0.0.1", "--lifespan", "off"]
    # As infrastructure/Procfile: a frame is serialised once, not compressed per socket.
    command += ["--log-level", "warning", "--ws-per-message-deflate", "false", "--ws", ws]
    env = test_process_env(
        REDIS_URL=settings.REDIS_URL,
        CHANNEL_LAYER_REDIS_URL=settings.CHANNEL_LAYER_REDIS_URL,
        **(env_extra or {}),
    )
    log_path = ROOT / "test-artifacts" / "seat-fanout-uvicorn.log"
    server = ManagedProcess(command, log_path=log_path, env=env)
    return server.start(port_accepts(port), timeout=30), f"ws://127.0.0.1:{port}"


@pytest.fixture
def servers(transactional_db):
    """A factory of uvicorn processes on spare ports (stopped at the end of the test)."""
    started = []

    def start(count=1, ws=PREPARED, **env):
        urls = []
        for _ in range(count):
            server, url = start_uvicorn(env, ws)
            started.append(server)
            urls.append(url)
        return urls

    yield start
    for server in started:
        server.stop(timeout=10)


class Client:
    """One watcher, behaving like the buyer page (seatmaps/js/live.js): it applies deltas in
    order and records every change it got, with when it got it."""

    def __init__(self):
        self.frames: list[dict] = []
        self.changes: list[dict] = []
        self.arrived: dict[int, float] = {}  # seq -> when it was received
        self.last = None
        self.ws = None

    def take(self, frame: dict) -> None:
        self.frames.append(frame)
        now = time.monotonic()
        if frame["type"] == "snapshot":
            self.last = frame["seq"]
        elif frame["type"] == "deltas":
            for change in frame["changes"]:
                self.changes.append(change)
                self.arrived.setdefault(change["seq"], now)
                self.last = change["seq"]


class Crowd:
    """Hundreds of WebSocket clients on an event loop in a thread, so the test's own (sync)
    Django calls run on the main thread as the services do in production."""

    def __init__(self):
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.clients: list[Client] = []
        self.tasks = []

    def call(self, coro, timeout=120):
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def join(self, url: str, count: int, *, first_frames=1, **options) -> list[Client]:
        """``count`` clients on ``url``; returns once each has its first ``first_frames``."""

        async def one(client):
            client.ws = await connect(
                url, origin=ORIGIN, open_timeout=60, compression=None, **options
            )
            for _ in range(first_frames):
                client.take(json.loads(await client.ws.recv()))

        async def all_of(clients):
            for i in range(0, len(clients), 100):
                await asyncio.gather(*(one(c) for c in clients[i : i + 100]))
            for client in clients:
                self.tasks.append(asyncio.ensure_future(self.read(client)))

        clients = [Client() for _ in range(count)]
        self.call(all_of(clients))
        self.clients += clients
        return clients

    async def read(self, client: Client) -> None:
        with contextlib.suppress(Exception):
            async for message in client.ws:
                client.take(orjson.loads(message))

    def wait_until(self, predicate, timeout=15) -> None:
        deadline = time.monotonic() + timeout
        while not predicate():
            assert time.monotonic() < deadline, "timed out waiting for the clients"
            time.sleep(0.05)

    def close(self):
        async def close_all():
            for task in self.tasks:
                task.cancel()
            await asyncio.gather(
                *(c.ws.close() for c in self.clients if c.ws is not None), return_exceptions=True
            )

        with contextlib.suppress(Exception):
            self.call(close_all(), timeout=30)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


@pytest.fixture
def crowd():
    crowd = Crowd()
    yield crowd
    crowd.close()


@pytest.fixture
def event(make_user, make_event):
    return make_event(make_user(), rows=2, seats_per_row=10)


def seats_of(event) -> list[int]:
    return list(event.seat_map.seats.order_by("id").values_list("id", flat=True))


def publish_steadily(event_id: int, changes: list[tuple[list[int], str]], per_second: int):
    """Publish ``changes`` at a steady rate; returns when each was published (by seq)."""
    published = {}
    start = time.monotonic()
    for i, (seats, status) in enumerate(changes):
        delay = start + i / per_second - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        at = time.monotonic()
        publish_seat_changes(event_id, seats, status)
        published[current_sequence(event_id)] = at
    return published


def test_hundreds_of_clients_see_every_change_exactly_once_and_in_order(servers, crowd, event):
    (url,) = servers(1)
    start = current_sequence(event.id)
    clients = crowd.join(f"{url}/ws/events/{event.id}/", 300)
    assert all(c.frames[0] == {**c.frames[0], "type": "snapshot", "seq": start} for c in clients)

    seats = seats_of(event)
    statuses = ["held", "available", "held", "sold"]
    changes = [([seats[i % len(seats)]], statuses[i % 4]) for i in range(200)]
    published = publish_steadily(event.id, changes, per_second=200)
    end = start + len(changes)
    crowd.wait_until(lambda: all(c.last == end for c in clients))

    expected = [
        {"seq": start + 1 + i, "seats": seats_, "status": status}
        for i, (seats_, status) in enumerate(changes)
    ]
    for client in clients:
        assert client.changes == expected  # every change, once, in order, nothing else
        assert [f["type"] for f in client.frames[1:]] == ["deltas"] * (len(client.frames) - 1)
    # Batched: a frame per window (WS_BATCH_MS), not one per change.
    assert max(len(c.frames) for c in clients) < len(changes) / 3
    delays = [c.arrived[seq] - at for c in clients for seq, at in published.items()]
    assert max(delays) < 1.0, f"slowest delivery {max(delays):.3f}s"


def test_a_client_reconnecting_with_since_gets_exactly_the_missed_changes(servers, crowd, event):
    (url,) = servers(1)
    path = f"{url}/ws/events/{event.id}/"
    seats = seats_of(event)
    (first,) = crowd.join(path, 1)
    publish_seat_changes(event.id, seats[:2], "held")
    crowd.wait_until(lambda: first.last == first.frames[0]["seq"] + 1)
    seen = first.last
    crowd.call(first.ws.close())

    for seat in seats[2:7]:  # while it is away
        publish_seat_changes(event.id, [seat], "held")
    (back,) = crowd.join(f"{path}?since={seen}", 1)
    publish_seat_changes(event.id, seats[7:8], "sold")
    crowd.wait_until(lambda: back.last == seen + 6)

    assert back.frames[0]["type"] == "deltas", "a replay, not a snapshot"
    assert back.changes == [
        *({"seq": seen + 1 + i, "seats": [s], "status": "held"} for i, s in enumerate(seats[2:7])),
        {"seq": seen + 6, "seats": seats[7:8], "status": "sold"},
    ]

    # Once the log is trimmed past it, the same request gets a snapshot instead.
    seat_locks().redis.xtrim(stream_key(event.id), maxlen=2, approximate=False)
    (late,) = crowd.join(f"{path}?since={seen}", 1)
    assert late.frames[0]["type"] == "snapshot"
    assert late.frames[0]["seq"] == current_sequence(event.id) == seen + 6


class StalledClient:
    """A raw WebSocket client that completes the handshake and then stops reading, with a
    tiny receive buffer: the server's writes to it back up after a few frames."""

    def __init__(self, url: str, path: str):
        host, port = url.removeprefix("ws://").split(":")
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        self.sock.connect((host, int(port)))
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall(
            f"GET {path} HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
            f"Sec-WebSocket-Version: 13\r\nOrigin: {ORIGIN}\r\n\r\n".encode()
        )
        self.buffer = b""
        while b"\r\n\r\n" not in self.buffer:
            self.buffer += self.sock.recv(4096)
        head, _, self.buffer = self.buffer.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 101"), head

    def _exactly(self, n: int) -> bytes:
        while len(self.buffer) < n:
            chunk = self.sock.recv(1 << 20)
            if not chunk:
                raise ConnectionError("closed")
            self.buffer += chunk
        data, self.buffer = self.buffer[:n], self.buffer[n:]
        return data

    def frame(self, timeout: float) -> dict:
        """The next text frame (server frames are unmasked and, here, unfragmented)."""
        self.sock.settimeout(timeout)
        while True:
            b0, b1 = self._exactly(2)
            length = b1 & 0x7F
            if length == 126:
                (length,) = struct.unpack("!H", self._exactly(2))
            elif length == 127:
                (length,) = struct.unpack("!Q", self._exactly(8))
            payload = self._exactly(length)
            if b0 & 0x0F == 1:
                return json.loads(payload)


def test_a_client_that_stops_reading_is_resynced_without_delaying_the_others(servers, crowd, event):
    (url,) = servers(1, WS_MAX_QUEUED="5")
    path = f"/ws/events/{event.id}/"
    neighbours = crowd.join(url + path, 40)
    stalled = StalledClient(url, path)

    # Big changes (5,000 seats, ~35 kB each): the kernel buffers a few MB for the stalled
    # socket before the server's writes to it block. (Fewer neighbours than elsewhere: each
    # of them parses those megabytes too, on this same machine.)
    big = [list(range(10**6 + 5000 * i, 10**6 + 5000 * (i + 1))) for i in range(120)]
    published = publish_steadily(event.id, [(s, "sold") for s in big], per_second=20)
    end = max(published)
    crowd.wait_until(lambda: all(c.last == end for c in neighbours))

    delays = [c.arrived[seq] - at for c in neighbours for seq, at in published.items()]
    assert max(delays) < 1.0, f"a neighbour waited {max(delays):.3f}s"
    assert all(len(c.changes) == len(big) for c in neighbours)

    # Reading again, it gets its snapshot, what was in flight, then a resync notice and a
    # snapshot current at the end: not the backlog.
    frames = [stalled.frame(5)]
    while not (frames[-1]["type"] == "snapshot" and frames[-1].get("seq") == end):
        frames.append(stalled.frame(5))
    kinds = [f["type"] for f in frames]
    assert kinds[0] == "snapshot"
    assert "resync" in kinds, kinds
    assert kinds[kinds.index("resync") + 1 :] == ["snapshot"]
    delivered = sum(len(f["changes"]) for f in frames if f["type"] == "deltas")
    # What the kernel had buffered arrives; the rest of the backlog was dropped for the snapshot.
    assert delivered < len(big), "the backlog was dropped, not delivered"


# Rerun once: waits on the booking worker and the relay on a loaded 2-core machine (timing).
@pytest.mark.flaky(reruns=1)
def test_worker_cancellation_and_expiry_changes_arrive(servers, crowd, make_user, event):
    (url,) = servers(1)
    Event.objects.filter(pk=event.pk).update(hold_ttl_seconds=1)  # below the form's minimum
    event.refresh_from_db()
    publish_event_rules(event)
    buyer = make_user()
    seats = seats_of(event)
    (client,) = crowd.join(f"{url}/ws/events/{event.id}/", 1)

    def statuses():
        return [(c["seats"], c["status"]) for c in client.changes]

    # A hold, registered: the booking service (the worker's) sells the seats.
    booked = create_hold(user_id=buyer.pk, event_id=event.id, seat_ids=seats[:2])
    booking = register_hold(
        user_id=buyer.pk, hold_id=booked.id, idempotency_key=uuid.uuid4().hex
    ).booking
    crowd.wait_until(lambda: (seats[:2], "sold") in statuses())
    # A cancellation puts them back on sale.
    cancel_booking(booking_id=booking.pk)
    crowd.wait_until(lambda: (seats[:2], "available") in statuses())
    # A hold nobody registers runs out by TTL: announced within a second of expiring.
    expiring = create_hold(user_id=buyer.pk, event_id=event.id, seat_ids=seats[5:7])
    expires_at = time.monotonic() + (expiring.expires_at.timestamp() - time.time())
    crowd.wait_until(lambda: (seats[5:7], "available") in statuses(), timeout=10)
    freed_at = client.arrived[client.changes[-1]["seq"]]
    assert freed_at - expires_at < 1.0, f"announced {freed_at - expires_at:.2f}s after expiry"

    assert statuses() == [
        (seats[:2], "held"),
        (seats[:2], "sold"),
        (seats[:2], "available"),
        (seats[5:7], "held"),
        (seats[5:7], "available"),
    ]
    assert [c["seq"] for c in client.changes] == list(
        range(client.frames[0]["seq"] + 1, client.frames[0]["seq"] + 6)
    )


def test_two_ws_processes_deliver_the_same_sequence(servers, crowd, event):
    # One with prepared frames, one sending every copy through ASGI (uvicorn's own protocol).
    urls = servers(1) + servers(1, ws="websockets-sansio")
    start = current_sequence(event.id)
    groups = [crowd.join(f"{url}/ws/events/{event.id}/", 150) for url in urls]
    seats = seats_of(event)
    # Publishers on both sides of the fan-out: every change has one number across processes.
    changes = [([seats[i % len(seats)]], "held" if i % 2 else "available") for i in range(100)]
    publish_steadily(event.id, changes, per_second=200)
    end = start + len(changes)
    everyone = groups[0] + groups[1]
    crowd.wait_until(lambda: all(c.last == end for c in everyone))
    reference = everyone[0].changes
    assert [c["seq"] for c in reference] == list(range(start + 1, end + 1))
    assert all(c.changes == reference for c in everyone)
