"""Fixtures for the seat-map browser tests: the real app under uvicorn on the test database.

The browser needs HTTP, WebSockets and static files from one origin, so ``asgi_server`` runs
``ticketing.asgi_static:application`` (the project's ASGI app plus static files). The browser
and data helpers live in ``seatmap_browser_helpers``.
"""

import os
import signal
import subprocess
import sys
import time

import httpx
import pytest

from tests.conftest import ROOT, free_port, test_database_url


@pytest.fixture(scope="session")
def asgi_server(django_db_setup, artifacts_dir):
    """uvicorn with HTTP + WebSockets + static files on the test database; yields its base URL."""
    port = free_port()
    log_path = artifacts_dir / "asgi-server.log"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "ticketing.settings_test",
        "DATABASE_URL": test_database_url(),
    }
    with open(log_path, "ab") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "ticketing.asgi_static:application",
             "--host", "127.0.0.1", "--port", str(port), "--lifespan", "off",
             "--log-level", "warning"],
            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            if proc.poll() is not None:
                raise RuntimeError(f"uvicorn exited; see {log_path}") from None
            time.sleep(0.2)
    else:
        raise RuntimeError(f"uvicorn did not start; see {log_path}")
    yield url
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


@pytest.fixture
def shots(artifacts_dir):
    """Where this module's screenshots go: test-artifacts/seatmaps/."""
    path = artifacts_dir / "seatmaps"
    path.mkdir(exist_ok=True)
    return path
