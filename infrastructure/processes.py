"""Start a program in its own process group, wait until it is ready, stop it.

Shared by the tests' workers and servers and the benchmark's servers: a program that does not
get ready is killed (never left running), and stopping one stops its children too (gunicorn
and celery workers fork), and nothing else.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until(check: Callable[[], bool], *, timeout: float, interval: float = 0.05) -> bool:
    """Poll ``check`` until it is true (True) or ``timeout`` seconds passed (False)."""
    deadline = time.monotonic() + timeout
    while True:
        if check():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval)


def url_answers(url: str) -> Callable[[], bool]:
    """A readiness check: ``url`` answers 200."""
    import httpx

    def check() -> bool:
        try:
            return httpx.get(url, timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    return check


def port_accepts(port: int) -> Callable[[], bool]:
    """A readiness check: something accepts TCP connections on ``port``."""

    def check() -> bool:
        try:
            with socket.create_connection(("127.0.0.1", port), 0.2):
                return True
        except OSError:
            return False

    return check


class ManagedProcess:
    """One program with its output appended to ``log_path``."""

    def __init__(self, args: list[str], *, log_path: Path, env: dict | None = None, cwd=ROOT):
        self.args, self.log_path, self.env, self.cwd = args, log_path, env, cwd
        self.proc: subprocess.Popen | None = None
        self.log_offset = 0

    @property
    def pid(self) -> int:
        return self.proc.pid

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def log_text(self) -> bytes:
        """What the program wrote since this start."""
        return self.log_path.read_bytes()[self.log_offset :]

    def start(self, ready: Callable[[], bool], *, timeout: float = 60) -> ManagedProcess:
        """Start the program and return once ``ready()`` is true; if it exits or is not ready
        within ``timeout`` seconds, kill it and raise RuntimeError."""
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self.log_offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                self.args, cwd=self.cwd, env=self.env, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True,
            )  # fmt: skip
        if wait_until(lambda: not self.running or ready(), timeout=timeout, interval=0.1):
            if self.running:
                return self
            raise RuntimeError(f"{self.args[:3]} exited at start; see {self.log_path}")
        self.kill()
        raise RuntimeError(f"{self.args[:3]} was not ready in {timeout:.0f} s; see {self.log_path}")

    def stop(self, timeout: float = 20) -> None:
        """SIGTERM the process group, SIGKILL it if it is still there after ``timeout``."""
        if not self.running:
            return
        os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()

    def kill(self) -> None:
        """SIGKILL the whole process group, as an OOM killer or a lost machine would."""
        if self.proc is None:
            return
        with contextlib.suppress(ProcessLookupError):  # the group has exited already
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait()

    def __enter__(self) -> ManagedProcess:
        return self

    def __exit__(self, *exc) -> None:
        self.stop()
