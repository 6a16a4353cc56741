"""A lean asyncio HTTP/1.1 client for the load phases: httptools (uvicorn's parser) on uvloop.

httpx spends roughly half a millisecond of CPU per request; on a 2-core machine that is CPU the
server under test does not get. Here a request is a few pre-joined bytes and the parser is C, so
the load generator's own share stays small. Keep-alive connections are reused when the server
allows it (nginx does; gunicorn's sync worker closes after every response).
"""

from __future__ import annotations

import asyncio
import os
import resource
import time
from urllib.parse import urlsplit

import httptools

try:
    import uvloop
except ImportError:  # uvicorn[standard] brings it; plain asyncio works, a little slower
    uvloop = None


def run(coro):
    """Run ``coro`` on uvloop when available."""
    return uvloop.run(coro) if uvloop is not None else asyncio.run(coro)


class _Connection(asyncio.Protocol):
    def __init__(self):
        self.transport = None
        self.parser = httptools.HttpResponseParser(self)
        self.waiter: asyncio.Future | None = None
        self.body = bytearray()
        self.keep_alive = True
        self.closed = False
        self.got_bytes = False

    # asyncio.Protocol
    def connection_made(self, transport):
        self.transport = transport

    def data_received(self, data):
        self.got_bytes = True
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self._finish(exc)

    def connection_lost(self, exc):
        self.closed = True
        self._finish(exc or ConnectionResetError("connection closed before the response ended"))

    # httptools callbacks
    def on_headers_complete(self):
        self.keep_alive = self.parser.should_keep_alive()

    def on_body(self, body):
        self.body += body

    def on_message_complete(self):
        self._finish(None)

    def _finish(self, exc):
        waiter, self.waiter = self.waiter, None
        if waiter is None or waiter.done():
            return
        if exc is None:
            waiter.set_result((self.parser.get_status_code(), bytes(self.body)))
        else:
            waiter.set_exception(exc)

    async def send(self, data: bytes) -> tuple[int, bytes]:
        if self.closed or self.transport.is_closing():
            raise ConnectionResetError("the server closed the connection")
        self.body = bytearray()
        self.got_bytes = False
        self.waiter = asyncio.get_running_loop().create_future()
        self.transport.write(data)
        return await self.waiter


class Client:
    """At most ``limit`` requests in flight, on kept-alive connections where possible."""

    def __init__(self, base_url: str, limit: int = 256, timeout: float = 60):
        parts = urlsplit(base_url)
        self.host, self.port = parts.hostname, parts.port or 80
        self.host_header = parts.netloc.encode()
        self.timeout = timeout
        self._idle: list[_Connection] = []
        self._slots = asyncio.Semaphore(limit)

    async def _connect(self) -> _Connection:
        loop = asyncio.get_running_loop()
        _, conn = await loop.create_connection(_Connection, self.host, self.port)
        return conn

    def encode(self, method: str, path: str, headers: dict[str, str], body: bytes) -> bytes:
        lines = [f"{method} {path} HTTP/1.1".encode(), b"Host: " + self.host_header]
        lines += [f"{k}: {v}".encode() for k, v in headers.items()]
        if body or method in ("POST", "PUT", "PATCH"):
            lines.append(f"Content-Length: {len(body)}".encode())
        return b"\r\n".join(lines) + b"\r\n\r\n" + body

    async def request(
        self, method: str, path: str, headers: dict[str, str] | None = None, body: bytes = b""
    ) -> tuple[int, bytes]:
        data = self.encode(method, path, headers or {}, body)
        async with self._slots:
            while self._idle:
                conn = self._idle.pop()
                if conn.closed:
                    continue
                try:
                    return await self._exchange(conn, data)
                except ConnectionError:
                    # The server closed an idle kept-alive connection under us; resend only when
                    # it had not answered anything, so nothing is sent twice.
                    if conn.got_bytes:
                        raise
            return await self._exchange(await self._connect(), data)

    async def _exchange(self, conn: _Connection, data: bytes) -> tuple[int, bytes]:
        try:
            answer = await asyncio.wait_for(conn.send(data), self.timeout)
        except BaseException:
            conn.transport.close()
            raise
        if conn.keep_alive and not conn.closed:
            self._idle.append(conn)
        else:
            conn.transport.close()
        return answer

    def close(self):
        for conn in self._idle:
            conn.transport.close()
        self._idle.clear()


def percentile(values, q):
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, round(q / 100 * (len(values) - 1)))]


class CpuMeter:
    """This process's CPU time over a phase as a share of the machine (wall time x cores)."""

    def __init__(self, who: int = resource.RUSAGE_SELF):
        self.who = who

    def __enter__(self):
        self.started = time.monotonic()
        self._cpu = self._now()
        return self

    def _now(self):
        usage = resource.getrusage(self.who)
        return usage.ru_utime + usage.ru_stime

    def __exit__(self, *exc):
        self.wall = time.monotonic() - self.started
        self.cpu = self._now() - self._cpu

    @property
    def share(self) -> float:
        return self.cpu / (max(self.wall, 1e-9) * (os.cpu_count() or 1))
