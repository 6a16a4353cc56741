"""Seat changes to every local WebSocket: one Redis reader per process, not one per socket.

``SeatFanout`` (one per event loop, i.e. per ws process) reads the streams of the events that
have local watchers with one blocking ``XREAD``, coalesces the changes of a short window into
one ``deltas`` frame per event, serialises it once and hands the same text to every watcher of
that event. It also sweeps the events' expiry indexes so a hold that ran out by TTL is
announced (``shared.seat_changes.SWEEP_LUA``).

``Watcher`` is one socket: a bounded queue of frames and one task that sends them in order.
While that task is idle and the socket's protocol offers it (``notifications.ws_server``), a
frame that simply continues the client's sequence is written straight to the socket during the
flush, the bytes framed once for every socket: no task switch, no ASGI message per copy. Every
other case (a backlog, a replay, a snapshot, a socket under back-pressure) takes the queue.
It knows the last sequence number its client has (``last``): frames it already has are
skipped, a frame that starts past ``last + 1`` is preceded by a replay from the stream, and a
client that falls ``MAX_QUEUED`` frames behind (it stopped reading) is sent ``resync`` and a
fresh snapshot instead of a backlog. So nobody's slow socket delays anyone else's.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import json
import logging
import time
import weakref
from collections.abc import Awaitable, Callable

from django.conf import settings
from redis.asyncio.cluster import RedisCluster
from redis.cluster import key_slot

from notifications.ws_server import text_frame
from shared import metrics
from shared.redis_clients import async_seat_lock_client
from shared.seat_changes import (
    SWEEP_BATCH,
    SWEEP_LUA,
    due_seats_query,
    event_of_stream,
    sequence_key,
    stream_key,
    sweep_call,
)

log = logging.getLogger(__name__)

# One frame per event per window: each frame costs the process one write (a syscall) per local
# socket, so the window sets the cost of a busy event: 5,000 watchers at 200 ms are 25,000
# writes a second.
BATCH_SECONDS = settings.WS_BATCH_MS / 1000
# Expired holds are announced within this plus BATCH_SECONDS.
SWEEP_SECONDS = 0.25
# A reader blocked this long picks up events that got their first watcher meanwhile.
BLOCK_MS = 100
# Frames a socket may lag behind before it is resynced (seconds of backlog: x BATCH_SECONDS).
MAX_QUEUED = settings.WS_MAX_QUEUED
# A reconnecting client further behind than this gets a snapshot rather than a replay.
MAX_REPLAY = 5_000
# Open seat-map sockets of this process (``ticketing_ws_connections``): counted on join/leave.
_SEAT_SOCKETS = metrics.WS_CONNECTIONS.labels("seats")


class Batch:
    """Changes ``lo``..``hi`` (consecutive sequence numbers) of one event, serialised once
    (``text``) and framed once (``frame``, for sockets that take prepared frames)."""

    __slots__ = ("changes", "frame", "hi", "lo", "text")

    def __init__(self, changes: list[dict]):
        self.changes = changes
        self.lo = changes[0]["seq"]
        self.hi = changes[-1]["seq"]
        self.text = json.dumps({"type": "deltas", "changes": changes}, separators=(",", ":"))
        self.frame = text_frame(self.text)


def change_of(entry_id: bytes | str, fields: dict) -> dict:
    if isinstance(entry_id, bytes):
        entry_id = entry_id.decode()
    seats = fields[b"seats"].decode()
    return {
        "seq": int(entry_id.partition("-")[0]),
        "seats": [int(s) for s in seats.split(",") if s],
        "status": fields[b"status"].decode(),
    }


class Watcher:
    """One WebSocket watching one event. ``send_text`` writes a frame; ``snapshot`` builds one."""

    def __init__(
        self,
        fanout: SeatFanout,
        event_id: int,
        send_text: Callable[[str], Awaitable[None]],
        snapshot: Callable[[], Awaitable[dict]],
        write_frame: Callable[[bytes], bool] | None = None,
    ):
        self.fanout = fanout
        self.event_id = event_id
        self.send_text = send_text
        self.snapshot = snapshot
        self.write_frame = write_frame  # the socket's prepared-frame writer, if it has one
        self.queue: collections.deque[Batch] = collections.deque()
        self.wake = asyncio.Event()
        self.last = -1  # nothing sent yet
        self.since: int | None = None
        self.resync: str | None = "connect"  # why the next thing to send is a snapshot
        self.task: asyncio.Task | None = None
        self.idle = False  # the sender task waits with nothing to do (and sends nothing)

    # --- called by the fanout and the consumer (never block) ---------------------------
    def offer(self, batch: Batch) -> None:
        if (
            self.idle
            and batch.lo == self.last + 1
            and self.write_frame is not None
            and not self.queue
            and self.resync is None
            and self.write_frame(batch.frame)
        ):
            # The common case, written now: nothing queued or in flight can come after it.
            self.last = batch.hi
            return
        if len(self.queue) >= MAX_QUEUED:
            # Fell behind: drop the backlog; it gets a snapshot when it reads again.
            self.queue.clear()
            self.resync = "behind"
        elif self.resync is None or self.since is not None:
            # (A snapshot still to be taken covers the batch: it is read later.)
            self.queue.append(batch)
        self.wake.set()

    def request_snapshot(self) -> None:
        self.queue.clear()
        self.resync = self.resync or "asked"
        self.wake.set()

    # --- the sender task ---------------------------------------------------------------
    async def run(self) -> None:
        while True:
            while self.resync is None and not self.queue and self.since is None:
                self.wake.clear()
                self.idle = True
                try:
                    await self.wake.wait()
                finally:
                    self.idle = False
            if self.since is not None:
                replayed = await self.replay(self.since)
                self.since = None  # batches offered during the replay were queued
                if replayed and self.resync == "gone":
                    self.resync = None
                continue
            if self.resync is not None:
                reason, self.resync = self.resync, None
                self.queue.clear()
                if reason == "behind":
                    await self.send_text('{"type":"resync"}')
                await self.send_snapshot()
                continue
            batch = self.queue.popleft()
            await self.deliver(batch)

    async def send_snapshot(self) -> None:
        snapshot = await self.snapshot()
        self.last = snapshot["seq"]
        await self.send_text(self.fanout.snapshot_text(self.event_id, snapshot))

    async def deliver(self, batch: Batch) -> None:
        if batch.hi <= self.last:
            return
        if batch.lo == self.last + 1:
            await self.send_text(batch.text)  # the common case: the shared text as is
            self.last = batch.hi
            return
        if batch.lo > self.last + 1 and not await self.replay(self.last, until=batch.lo - 1):
            await self.send_snapshot()
            if batch.hi <= self.last:
                return
        changes = [c for c in batch.changes if c["seq"] > self.last]
        await self.send_text(json.dumps({"type": "deltas", "changes": changes}))
        self.last = changes[-1]["seq"]

    async def replay(self, since: int, until: int | None = None) -> bool:
        """Send the changes after ``since`` (up to ``until``) from the stream; False when they
        are gone (trimmed, or a sequence from another Redis) and a snapshot must be sent."""
        changes = await self.fanout.read_range(self.event_id, since, until)
        if changes is None:
            return False
        if changes:
            text = json.dumps({"type": "deltas", "changes": changes}, separators=(",", ":"))
            await self.send_text(text)
            self.last = changes[-1]["seq"]
        else:
            self.last = since
        return True


class SeatFanout:
    """The per-process reader of seat-change streams and its local watchers."""

    def __init__(self):
        # The seat-lock Redis (a Redis Cluster when REDIS_CLUSTER_NODES is set).
        self.redis = async_seat_lock_client(socket_timeout=10)
        self.sweep_script = self.redis.register_script(SWEEP_LUA)
        self.watchers: dict[int, set[Watcher]] = {}
        self.positions: dict[int, str] = {}  # stream id read up to, per watched event
        self.pending: dict[int, list[dict]] = collections.defaultdict(list)
        self.has_pending = asyncio.Event()
        self.has_events = asyncio.Event()
        self.tasks: list[asyncio.Task] = []
        self.snapshots: dict[int, tuple[dict, str]] = {}

    def start(self) -> None:
        if not self.tasks:
            self.tasks = [
                asyncio.create_task(self.read_forever(), name="seat-fanout-read"),
                asyncio.create_task(self.flush_forever(), name="seat-fanout-flush"),
                asyncio.create_task(self.sweep_forever(), name="seat-fanout-sweep"),
            ]

    async def join(self, watcher: Watcher, since: int | None = None) -> None:
        """Start feeding ``watcher``: a snapshot first, or a replay from ``since``."""
        event_id = watcher.event_id
        if event_id not in self.positions:
            # Read from the current sequence: the snapshot (or replay) taken after this covers
            # everything before it, and the watcher skips what it already has.
            seq = int(await self.redis.get(sequence_key(event_id)) or 0)
            self.positions.setdefault(event_id, f"{seq}-0")
        self.watchers.setdefault(event_id, set()).add(watcher)
        _SEAT_SOCKETS.inc()
        if since is not None:
            watcher.since = since
            watcher.resync = "gone"  # used only when the replay fails
        watcher.task = asyncio.create_task(self.guard(watcher))
        self.has_events.set()
        self.start()

    async def guard(self, watcher: Watcher) -> None:
        with contextlib.suppress(asyncio.CancelledError):
            try:
                await watcher.run()
            except Exception:  # a closed socket ends its sender; the consumer cleans up
                log.debug("seat watcher of event %s stopped", watcher.event_id, exc_info=True)

    async def leave(self, watcher: Watcher) -> None:
        local = self.watchers.get(watcher.event_id)
        if local is not None and watcher in local:
            local.discard(watcher)
            _SEAT_SOCKETS.dec()
            if not local:
                del self.watchers[watcher.event_id]
                self.positions.pop(watcher.event_id, None)
                self.pending.pop(watcher.event_id, None)
                self.snapshots.pop(watcher.event_id, None)
        if watcher.task is not None:
            watcher.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watcher.task

    def snapshot_text(self, event_id: int, snapshot: dict) -> str:
        """The snapshot serialised, once for every socket that gets the same one."""
        cached = self.snapshots.get(event_id)
        if cached is None or cached[0] is not snapshot:
            cached = self.snapshots[event_id] = (snapshot, json.dumps(snapshot))
        return cached[1]

    async def read_range(self, event_id: int, since: int, until: int | None) -> list | None:
        """Changes ``since + 1``..``until`` (or the latest), or None when the stream lacks some."""
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.get(sequence_key(event_id))
            pipe.xrange(
                stream_key(event_id),
                min=f"{since + 1}-0",
                max=f"{until}-0" if until is not None else "+",
                count=MAX_REPLAY + 1,
            )
            current, entries = await pipe.execute()
        current = int(current or 0)
        end = current if until is None else min(until, current)
        if since > current:
            return None  # a sequence this Redis never issued
        if end <= since:
            return []
        changes = [change_of(entry_id, fields) for entry_id, fields in entries]
        changes = [c for c in changes if c["seq"] <= end]
        if len(changes) != end - since:
            return None  # trimmed, or too far behind for a replay
        return changes

    # --- the three loops -----------------------------------------------------------------
    async def read_forever(self) -> None:
        while True:
            try:
                await self.read_once()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.warning("seat-change stream read failed; retrying", exc_info=True)
                await asyncio.sleep(0.5)

    async def read_once(self) -> None:
        if not self.positions:
            self.has_events.clear()
            await self.has_events.wait()
        streams = {stream_key(e): pos for e, pos in self.positions.items()}
        reply = await self.xread(streams)
        for key, entries in reply or ():
            event_id = event_of_stream(key)
            if event_id not in self.positions or not entries:
                continue  # nobody here watches it any more
            self.pending[event_id].extend(change_of(i, f) for i, f in entries)
            last = entries[-1][0]
            self.positions[event_id] = last.decode() if isinstance(last, bytes) else last
        if reply:
            self.has_pending.set()

    async def xread(self, streams: dict[str, str]) -> list:
        """One blocking XREAD; on a Redis Cluster one per slot (a command may not span slots)."""
        if not isinstance(self.redis, RedisCluster):
            return await self.redis.xread(streams, block=BLOCK_MS, count=MAX_REPLAY)
        by_slot: dict[int, dict[str, str]] = collections.defaultdict(dict)
        for key, position in streams.items():
            by_slot[key_slot(key.encode())][key] = position
        reads = [self.redis.xread(g, block=BLOCK_MS, count=MAX_REPLAY) for g in by_slot.values()]
        replies = await asyncio.gather(*reads)
        return [entry for reply in replies for entry in reply or ()]

    async def flush_forever(self) -> None:
        last_flush = 0.0
        while True:
            await self.has_pending.wait()
            # Leading edge: a change after a quiet spell goes out at once, later ones wait
            # for the window so a busy event gets one frame per BATCH_SECONDS.
            wait = last_flush + BATCH_SECONDS - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            self.has_pending.clear()
            last_flush = time.monotonic()
            pending, self.pending = self.pending, collections.defaultdict(list)
            for event_id, changes in pending.items():
                watchers = self.watchers.get(event_id)
                if watchers and changes:
                    started = time.perf_counter()
                    batch = Batch(changes)
                    for watcher in watchers:
                        watcher.offer(batch)
                    metrics.WS_FANOUT_SECONDS.observe(time.perf_counter() - started)

    async def sweep_forever(self) -> None:
        while True:
            await asyncio.sleep(SWEEP_SECONDS)
            for event_id in list(self.watchers):
                try:
                    key, low, high = due_seats_query(event_id)
                    due = await self.redis.zrangebyscore(key, low, high, start=0, num=SWEEP_BATCH)
                    if due:
                        keys, args = sweep_call(event_id, due)
                        await self.sweep_script(keys=keys, args=args)
                except Exception:
                    log.warning("expiry sweep of event %s failed", event_id, exc_info=True)

    async def close(self) -> None:
        for task in self.tasks:
            task.cancel()
        for task in self.tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self.tasks = []
        await self.redis.aclose()


_fanouts: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, SeatFanout] = (
    weakref.WeakKeyDictionary()
)


def fanout() -> SeatFanout:
    """This event loop's fanout (one per ws process; tests may run several loops)."""
    loop = asyncio.get_running_loop()
    instance = _fanouts.get(loop)
    if instance is None:
        instance = _fanouts[loop] = SeatFanout()
    return instance
