"""Dependencies a test may break on purpose: its own redis-server on a free port (the shared
Redis on 6379 serves other engineers' tests and must never be stopped), and a bearer token from
the real Keycloak."""

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time

import redis
import requests
from django.conf import settings

from tests.conftest import free_port


class PrivateRedis:
    """A redis-server of the test's own, without persistence, that the test may kill."""

    def __init__(self):
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}"
        self.dir = tempfile.mkdtemp(prefix="private-redis-")
        self.proc: subprocess.Popen | None = None

    def start(self) -> "PrivateRedis":
        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", self.dir, "--databases", "4"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
        )  # fmt: skip
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with contextlib.suppress(redis.ConnectionError):
                if redis.Redis(port=self.port, socket_connect_timeout=0.2).ping():
                    return self
            time.sleep(0.05)
        raise RuntimeError("the private redis-server did not start")

    def kill(self) -> None:
        """SIGKILL: the data is gone and every client's connection breaks."""
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:  # until the port refuses connections
            try:
                socket.create_connection(("127.0.0.1", self.port), 0.2).close()
            except OSError:
                return
            time.sleep(0.05)

    def close(self) -> None:
        self.kill()
        shutil.rmtree(self.dir, ignore_errors=True)


def keycloak_access_token(username: str = "buyer@example.com", password: str = "buyer") -> str:  # noqa: S107 (a demo user)
    """An access token of a demo user from the real Keycloak (development client)."""
    url = (
        f"{settings.KEYCLOAK_URL.rstrip('/')}/realms/{settings.KEYCLOAK_REALM}"
        "/protocol/openid-connect/token"
    )
    response = requests.post(
        url,
        data={"grant_type": "password", "client_id": "ticketing-cli", "username": username,
              "password": password, "scope": "openid"},
        timeout=10,
    )  # fmt: skip
    response.raise_for_status()
    return response.json()["access_token"]
