"""Fan-out: thousands of WebSocket clients watch one event while buyers hold seats steadily.

Prints the issue-12 figures: watchers held open, seat changes per second, change-to-screen
latency (from the change's Redis write to each watcher receiving it), changes lost (sequence
gaps not healed by the end), the ws processes' memory per connection and CPU share, and this
load generator's own CPU share. By default a thread here publishes the changes exactly as the
hold path does after its script (``shared.realtime.publish_seat_changes``); ``--holds`` makes
them with ``POST /holds/`` through nginx and gunicorn instead (the clock then starts when the
request is written, so it includes the web tier).

The watchers are one asyncio process with a minimal WebSocket client (server frames are not
masked, so reading one is a header and a slice; orjson parses it): a general-purpose client
costs tens of microseconds per frame, CPU the server under test would not get. They behave like
the buyer page: apply deltas in sequence, ask for a resync on a gap. Needs `make run` (nginx on
:8000 routes /ws/ to uvicorn).
"""

from __future__ import annotations

import argparse
import array
import asyncio
import base64
import os
import struct
import time
from urllib.parse import urlsplit

import orjson

from bench.client import Client, CpuMeter, percentile, run

HIST_MS = 120_000  # latency histogram: one bucket per millisecond


class Frame:
    """One ``deltas`` frame as sent (every watcher served by one ws process gets the same
    bytes): parsed once, with the arrival time of each copy; latencies are computed after."""

    __slots__ = ("arrivals", "changes", "held", "hi", "lo")

    def __init__(self, message: dict):
        self.changes = message["changes"]
        self.lo, self.hi = self.changes[0]["seq"], self.changes[-1]["seq"]
        if self.hi - self.lo + 1 != len(self.changes):
            self.lo = self.hi = None  # not consecutive: watchers take the slow path
        self.held = [s for c in self.changes if c["status"] == "held" for s in c["seats"]]
        self.arrivals = array.array("d")


class Stats:
    def __init__(self):
        self.frames: dict[bytes, Frame] = {}
        self.sent: dict[int, float] = {}  # seat -> when its change was written
        self.gaps = 0
        self.duplicates = 0
        self.resyncs = 0
        self.snapshots = 0
        self.closed = 0
        self.hist = [0] * HIST_MS

    def frame(self, payload: bytes) -> Frame:
        frame = self.frames.get(payload)
        if frame is None:
            frame = self.frames[payload] = Frame(orjson.loads(payload))
        return frame

    def compute(self) -> None:
        """The latency histogram: every copy of every held change, one bucket per ms."""
        hist = self.hist
        for frame in self.frames.values():
            sent = [self.sent[s] for s in frame.held if s in self.sent]
            for arrived in frame.arrivals:
                for at in sent:
                    hist[min(int((arrived - at) * 1000), HIST_MS - 1)] += 1

    def percentile_ms(self, q: float) -> float:
        total = sum(self.hist)
        if not total:
            return float("nan")
        rank, seen = q / 100 * total, 0
        for ms, count in enumerate(self.hist):
            seen += count
            if seen >= rank:
                return float(ms + 1)
        return float(HIST_MS)


class Watcher(asyncio.Protocol):
    """One socket on /ws/events/<id>/, following the protocol of seatmaps/js/live.js."""

    def __init__(self, stats: Stats, request: bytes, ready: asyncio.Future):
        self.stats, self.request, self.ready = stats, request, ready
        self.buffer = bytearray()
        self.upgraded = False
        self.transport = None
        self.last = -1
        self.first_seq = None
        self.applied = 0
        self.waiting = True

    def connection_made(self, transport):
        self.transport = transport
        transport.write(self.request)

    def connection_lost(self, exc):
        self.stats.closed += 1
        if not self.ready.done():
            self.ready.set_exception(ConnectionError(f"closed before the snapshot: {exc}"))

    def data_received(self, data):
        self.buffer += data
        if not self.upgraded:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            if not self.buffer.startswith(b"HTTP/1.1 101"):
                self.transport.close()
                return
            self.upgraded = True
            del self.buffer[: end + 4]
        self.read_frames()

    def read_frames(self):
        buf = self.buffer
        start = 0
        while len(buf) - start >= 2:
            opcode, length = buf[start] & 0x0F, buf[start + 1] & 0x7F
            head = 2
            if length == 126:
                if len(buf) - start < 4:
                    break
                (length,) = struct.unpack_from("!H", buf, start + 2)
                head = 4
            elif length == 127:
                if len(buf) - start < 10:
                    break
                (length,) = struct.unpack_from("!Q", buf, start + 2)
                head = 10
            if len(buf) - start < head + length:
                break
            payload = bytes(buf[start + head : start + head + length])
            start += head + length
            if opcode == 1:
                self.on_message(payload)
            elif opcode == 9:
                self.send(0xA, payload)  # pong
            elif opcode == 8:
                self.transport.close()
        del buf[:start]

    def send(self, opcode: int, payload: bytes) -> None:
        mask = os.urandom(4)
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        self.transport.write(bytes([0x80 | opcode, 0x80 | len(payload)]) + mask + masked)

    def on_message(self, payload: bytes) -> None:
        now = time.monotonic()
        if payload.startswith(b'{"type":"deltas"'):
            if not self.waiting:
                self.on_deltas(self.stats.frame(payload), now)
            return
        message = orjson.loads(payload)
        kind = message.get("type")
        if kind == "snapshot":
            self.stats.snapshots += 1
            self.last = message["seq"]
            if self.first_seq is None:
                self.first_seq = self.last
            self.waiting = False
            if not self.ready.done():
                self.ready.set_result(None)
        elif kind == "resync":
            self.stats.resyncs += 1
            self.waiting = True

    def on_deltas(self, frame: Frame, now: float) -> None:
        if frame.lo == self.last + 1:  # the usual case: the next changes, all of them
            self.last = frame.hi
            self.applied += frame.hi - frame.lo + 1
            frame.arrivals.append(now)
            return
        for change in frame.changes:  # anything else, change by change as live.js does
            seq = change["seq"]
            if seq <= self.last:
                self.stats.duplicates += 1
                continue
            if seq != self.last + 1:
                self.stats.gaps += 1
                self.waiting = True
                self.send(0x1, b'{"type":"resync"}')
                return
            self.last = seq
            self.applied += 1
        # (Latency of a partly applied frame is not counted: it only happens after a gap.)


def ws_processes(port: int) -> list[int]:
    """Pids of the uvicorn serving ticketing.asgi on ``port`` and of its worker children."""
    found, parents = [], {}
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                cmd = f.read()
            with open(f"/proc/{pid}/stat") as f:
                parents[int(pid)] = int(f.read().rsplit(")", 1)[1].split()[1])
        except OSError:
            continue
        args = cmd.split(b"\0")
        if b"ticketing.asgi:application" in args and b"--port" in args:
            if args[args.index(b"--port") + 1] != str(port).encode():
                continue
            found.append(int(pid))
    return found + [pid for pid, ppid in parents.items() if ppid in found]


def nginx_workers() -> list[int]:
    """Pids of the nginx worker processes (the proxy every watcher's frames pass through)."""
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                if f.read().startswith(b"nginx: worker process"):
                    found.append(int(pid))
        except OSError:
            continue
    return found


def machine_busy() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine so far: what every process got."""
    with open("/proc/stat") as f:
        ticks = [int(t) for t in f.readline().split()[1:9]]
    total = sum(ticks)
    idle = ticks[3] + ticks[4]  # idle, iowait
    hz = os.sysconf("SC_CLK_TCK")
    return (total - idle) / hz, total / hz


def cpu_of(pids) -> float:
    """CPU seconds the processes used so far."""
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
        except OSError:
            continue
    return total / os.sysconf("SC_CLK_TCK")


def rss_kb(pids) -> int:
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/status") as f:
                total += next(int(line.split()[1]) for line in f if line.startswith("VmRSS"))
        except (OSError, StopIteration):
            continue
    return total


async def run_fanout(
    base_url, event_id, seat_ids, sessions, clients, rate, seconds, direct, ws_port
):
    parts = urlsplit(base_url)
    host, port = parts.hostname, parts.port or 80
    loop = asyncio.get_running_loop()
    stats = Stats()
    servers = ws_processes(ws_port)
    rss_before = rss_kb(servers)
    proxy_rss_before = rss_kb(nginx_workers())
    me_before = rss_kb([os.getpid()])

    watchers, pending = [], []
    started = time.monotonic()
    for _ in range(clients):
        key = base64.b64encode(os.urandom(16)).decode()
        request = (
            f"GET /ws/events/{event_id}/ HTTP/1.1\r\nHost: {parts.netloc}\r\n"
            f"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
            f"Sec-WebSocket-Version: 13\r\nOrigin: {base_url}\r\n\r\n"
        ).encode()
        ready = loop.create_future()
        _, watcher = await loop.create_connection(
            lambda r=request, f=ready: Watcher(stats, r, f), host, port
        )
        watchers.append(watcher)
        pending.append(ready)
        if len(pending) >= 200:  # connect in waves so the snapshots do not pile up
            await asyncio.wait_for(asyncio.gather(*pending), 120)
            pending = []
    await asyncio.wait_for(asyncio.gather(*pending), 120)
    connect_seconds = time.monotonic() - started
    await asyncio.sleep(2)
    rss_connected = rss_kb(servers)
    proxy_rss_connected = rss_kb(nginx_workers())
    per_process = " ".join(f"{pid}:{rss_kb([pid]) // 1024}" for pid in servers)

    total = min(rate * seconds, len(seat_ids))
    ws_cpu = cpu_of(servers)
    proxies = nginx_workers()
    proxy_cpu = cpu_of(proxies)
    busy_before, total_before = machine_busy()
    statuses: dict[int, int] = {}
    hold_ms: list[float] = []
    with CpuMeter() as cpu:
        if direct:
            # A thread keeps the rate even when this loop is busy reading frames.
            driven = await asyncio.to_thread(
                publish_steadily, event_id, seat_ids[:total], rate, stats.sent
            )
        else:
            driven = await hold_steadily(
                base_url, event_id, seat_ids[:total], sessions, rate, stats.sent, statuses, hold_ms
            )
        # Let deliveries finish, so slow delivery shows as latency rather than loss.
        deadline = time.monotonic() + 30
        final = None
        while time.monotonic() < deadline:
            final = await current_sequence_async(event_id)
            if all(w.last >= final for w in watchers):
                break
            await asyncio.sleep(0.5)
    ws_share = (cpu_of(servers) - ws_cpu) / (cpu.wall * (os.cpu_count() or 1))
    proxy_share = (cpu_of(proxies) - proxy_cpu) / (cpu.wall * (os.cpu_count() or 1))
    busy_after, total_after = machine_busy()
    rss_end = rss_kb(servers)
    stats.compute()
    behind = sum(1 for w in watchers if w.last < final)
    expected = sum(final - w.first_seq for w in watchers)
    applied = sum(w.applied for w in watchers)
    for w in watchers:
        w.transport.close()
    return {
        "ws_clients": clients,
        "ws_processes": len(servers),  # the uvicorn supervisor and its workers
        "connect_seconds": connect_seconds,
        "source": "publish_seat_changes" if direct else "POST holds",
        "changes": total,
        "changes_per_second": total / driven,
        **(
            {}
            if direct
            else {
                "hold_statuses": " ".join(f"{k}:{v}" for k, v in sorted(statuses.items())),
                "hold_request_p50_ms": percentile(hold_ms, 50),
                "hold_request_p99_ms": percentile(hold_ms, 99),
            }
        ),
        "deliveries": applied,
        "expected_deliveries": expected,
        "deliveries_via_resync_snapshot": expected - applied,
        "clients_behind_at_end": behind,
        "gaps": stats.gaps,
        "duplicates": stats.duplicates,
        "resyncs_sent_by_server": stats.resyncs,
        "closed_early": stats.closed,
        "delivery_p50_ms": stats.percentile_ms(50),
        "delivery_p99_ms": stats.percentile_ms(99),
        "delivery_max_ms": stats.percentile_ms(100),
        "ws_cpu_share": ws_share,
        "proxy_cpu_share": proxy_share,
        # Everything else that ran meanwhile (Redis, the publisher thread, other users of the
        # machine) is the machine's busy share minus these three.
        "machine_busy_share": (busy_after - busy_before) / max(total_after - total_before, 1e-9),
        "ws_rss_mb_by_pid": per_process,  # how the sockets spread over the workers
        "ws_rss_mb_before": rss_before / 1024,
        "ws_rss_mb_connected": rss_connected / 1024,
        "ws_rss_mb_end": rss_end / 1024,
        "ws_kb_per_connection": (rss_connected - rss_before) / clients,
        # nginx holds two connections per watcher (client and upstream).
        "proxy_kb_per_watcher": (proxy_rss_connected - proxy_rss_before) / clients,
        "load_generator_kb_per_connection": (rss_kb([os.getpid()]) - me_before) / clients,
        "load_generator_cpu_share": cpu.share,
    }


def publish_steadily(event_id, seat_ids, rate, sent) -> float:
    """One ``held`` change per seat at ``rate`` a second, published as the hold path does
    (``shared.realtime.publish_seat_changes``, right after its Redis script); the latency
    clock of each change starts just before its Redis write."""
    from shared.realtime import publish_seat_changes

    t0 = time.monotonic()
    for i, seat in enumerate(seat_ids):
        delay = t0 + i / rate - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        sent[seat] = time.monotonic()
        publish_seat_changes(event_id, [seat], "held")
    return time.monotonic() - t0


async def hold_steadily(base_url, event_id, seat_ids, sessions, rate, sent, statuses, hold_ms):
    """``POST /holds/`` for one seat each at ``rate`` a second (end to end through the web tier);
    the latency clock starts when the request is written."""
    from bench import CSRF

    http = Client(base_url, limit=100_000)
    slots = asyncio.Semaphore(256)

    async def hold(i: int) -> None:
        seat = seat_ids[i]
        headers = {
            "Cookie": f"sessionid={sessions[i % len(sessions)]}; csrftoken={CSRF}",
            "X-CSRFToken": CSRF,
            "Content-Type": "application/json",
        }
        async with slots:
            sent[seat] = started = time.monotonic()
            status, _ = await http.request(
                "POST", f"/api/v1/events/{event_id}/holds/", headers, b'{"seats":[%d]}' % seat
            )
        hold_ms.append((time.monotonic() - started) * 1000)
        statuses[status] = statuses.get(status, 0) + 1

    t0 = time.monotonic()
    tasks = []
    for i in range(len(seat_ids)):
        delay = t0 + i / rate - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(hold(i)))
    await asyncio.gather(*tasks)
    http.close()
    return time.monotonic() - t0


async def current_sequence_async(event_id: int) -> int:
    from shared.realtime import current_sequence

    return await asyncio.to_thread(current_sequence, event_id)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--base-url", default=os.environ.get("BENCH_URL", "http://127.0.0.1:8000"))
    parser.add_argument("--clients", type=int, default=5000)
    parser.add_argument("--rate", type=int, default=200, help="seat changes (holds) per second")
    parser.add_argument("--seconds", type=int, default=30)
    parser.add_argument("--ws-port", type=int, default=8002, help="where uvicorn listens")
    parser.add_argument(
        "--holds",
        action="store_true",
        help="make the changes with POST /holds/ through the web tier (end to end) instead of "
        "publishing them as the hold path does (the ws tier's figure)",
    )
    args = parser.parse_args(argv)
    from bench import setup

    total = args.rate * args.seconds
    event = setup.create_event(max(total, 500), mode="simple")
    seats = setup.seat_ids(event)
    # The hold throttle allows 60 attempts a minute per buyer: enough buyers for the rate.
    sessions = setup.buyer_sessions(max(50, args.rate * 2))
    try:
        figures = run(
            run_fanout(
                args.base_url,
                event.pk,
                seats,
                sessions,
                args.clients,
                args.rate,
                args.seconds,
                not args.holds,
                args.ws_port,
            )
        )
    finally:
        setup.remove_events([event.pk])
        setup.remove_event_keys(event.pk)
    for key, value in figures.items():
        print(f"{key}={value:.2f}" if isinstance(value, float) else f"{key}={value}")
    return figures


if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ticketing.settings")
    import django

    django.setup()
    main()
