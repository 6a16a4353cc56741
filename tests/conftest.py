"""Fixtures shared by every test: real Redis (test databases), real worker processes, data."""

import contextlib
import itertools
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
import redis
from django.conf import settings

from infrastructure.processes import ManagedProcess, free_port, url_answers, wait_until
from shared.enums import BookingStatus
from tests.factories import EventFactory, GeneralAdmissionEventFactory, UserFactory

ROOT = Path(__file__).resolve().parent.parent


def _redis_urls():
    return [settings.REDIS_URL, settings.CHANNEL_LAYER_REDIS_URL, settings.CACHE_URL]


@pytest.fixture(autouse=True)
def settle_workers(request):
    """After a test that shares the database with worker processes, wait until they are idle.

    Django empties the tables after each transactional test; a worker still writing then
    deadlocks with that TRUNCATE.
    """
    marker = request.node.get_closest_marker("django_db")
    if marker is None or not marker.kwargs.get("transaction"):
        yield
        return
    request.getfixturevalue("transactional_db")  # set up before us, so torn down after us
    yield
    from registration_worker.models import Booking, OutboxMessage

    if not Booking.objects.exists() and not OutboxMessage.objects.exists():
        return  # no booking was made: nothing for a worker to finish
    wait_until(
        lambda: (
            not Booking.objects.filter(
                status__in=[BookingStatus.PENDING, BookingStatus.PENDING_PAYMENT]
            ).exists()
            and not OutboxMessage.objects.filter(sent_at__isnull=True).exists()
        ),
        timeout=15,
        interval=0.1,
    )
    time.sleep(0.3)  # the relay's pushes and the task's ack follow its commit


@pytest.fixture(autouse=True)
def clean_redis():
    """Each test starts with empty seat locks, channel layer and cache, and no stale caches."""
    from shared.local_cache import LocalCache
    from ticketing.auth.authentication import token_users

    for url in _redis_urls():
        client = redis.Redis.from_url(url)
        client.flushdb()
        client.close()
    LocalCache.clear_all()
    token_users.clear()
    yield


def test_database_url() -> str:
    db = settings.DATABASES["default"]
    return f"postgres://{db['USER']}:{db['PASSWORD']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"


test_database_url.__test__ = False


# Node names are unique per worker (two workers of one queue in a session would share a
# control queue RabbitMQ grants exclusively to one of them).
_worker_numbers = itertools.count()


def worker_app_name(queues: str) -> str:
    """What a test worker's database connections are called (a test may cut off those alone)."""
    return f"tests-worker-{queues}"


class WorkerProcess(ManagedProcess):
    """A real ``celery worker`` on the test vhost and the test database."""

    def __init__(
        self,
        queues: str,
        log_path: Path,
        concurrency: int = 2,
        pool: str = "prefork",
        extra_args: tuple[str, ...] = (),
    ):
        self.queues = queues
        super().__init__(
            [
                *(sys.executable, "-m", "celery", "-A", "ticketing", "worker"),
                *("-Q", queues, "-c", str(concurrency), "--pool", pool),
                *("-n", f"test-{queues}-{os.getpid()}-{next(_worker_numbers)}@%h"),
                *("--without-gossip", "--without-mingle", "--without-heartbeat", "-l", "INFO"),
                *extra_args,
            ],
            log_path=log_path,
            env=test_process_env(PGAPPNAME=worker_app_name(queues)),
        )

    def start(self):
        return super().start(lambda: b" ready." in self.log_text(), timeout=60)

    def child_pids(self) -> list[int]:
        out = subprocess.run(
            ["pgrep", "-P", str(self.proc.pid)], capture_output=True, text=True, check=False
        )
        return [int(pid) for pid in out.stdout.split()]


def json_log_records(text: str | bytes) -> list[dict]:
    """The JSON log records among a process's output (shared/logs.py), in order; lines that are
    no JSON object (Celery's banner, gunicorn's own lines) are left out."""
    if isinstance(text, bytes):
        text = text.decode(errors="replace")
    records = []
    for line in text.splitlines():
        if line.startswith("{"):
            with contextlib.suppress(ValueError):
                records.append(json.loads(line))
    return records


def test_process_env(**extra) -> dict:
    """The environment of a worker or server subprocess: the test settings and database."""
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "ticketing.settings_test",
        "DATABASE_URL": test_database_url(),
        **extra,
    }


test_process_env.__test__ = False


def purge_test_queues():
    from ticketing.celery import app

    with app.connection_for_write() as conn:
        channel = conn.default_channel
        for queue in ("bookings", "notifications", "bookings.dlq", "sales"):
            try:
                channel.queue_purge(queue)
            except Exception:
                conn.close()
                channel = conn.default_channel
                continue


@pytest.fixture(scope="session")
def artifacts_dir():
    path = ROOT / "test-artifacts"
    path.mkdir(exist_ok=True)
    return path


@pytest.fixture(scope="session")
def booking_worker(django_db_setup, django_db_blocker, artifacts_dir):
    """The registration worker, running for the whole session on the test database."""
    purge_test_queues()
    # As in infrastructure/Procfile: one process, threads running batches of commands, and a
    # prefetch of three batches.
    worker = WorkerProcess(
        "bookings",
        artifacts_dir / "worker-bookings.log",
        concurrency=8,
        pool="threads",
        extra_args=("--prefetch-multiplier", "24"),
    ).start()
    SINGLE_REDIS_BOOKING_WORKERS.append(worker)
    yield worker
    SINGLE_REDIS_BOOKING_WORKERS.remove(worker)
    worker.stop()


# The session's booking worker while it runs: the cluster tests pause it, since it would take
# their commands from the same queue and check them against the single Redis.
SINGLE_REDIS_BOOKING_WORKERS: list[WorkerProcess] = []


@pytest.fixture(scope="session")
def redis_cluster():
    """The local Redis Cluster (3 masters, 3 replicas), started by the project's own script;
    yields the value of REDIS_CLUSTER_NODES. Emptied first: event ids start again with every
    test database, so keys left by an earlier run would belong to this run's events."""
    from redis.cluster import RedisCluster

    script = str(ROOT / "infrastructure/redis_cluster.sh")
    started = subprocess.run([script, "start"], capture_output=True, text=True, timeout=120)
    assert started.returncode == 0, started.stdout + started.stderr
    nodes = subprocess.run([script, "nodes"], capture_output=True, text=True, check=True)
    nodes = nodes.stdout.strip()
    host, _, port = nodes.split(",")[0].rpartition(":")
    client = RedisCluster(host=host, port=int(port))
    client.flushall(target_nodes=RedisCluster.PRIMARIES)
    client.close()
    return nodes


# --- data ----------------------------------------------------------------------------------


@pytest.fixture
def make_user(db):
    def make(name=None, **extra):
        return UserFactory(**({"username": name} if name else {}), **extra)

    return make


@pytest.fixture
def client_for(make_user):
    """An API client logged in as ``user`` (a new buyer if none is given)."""

    def make(user=None):
        from rest_framework.test import APIClient

        client = APIClient()
        client.force_authenticate(user or make_user())
        return client

    return make


def create_seated_event(organizer, rows=2, seats_per_row=5, **fields):
    """A theatre event on sale: ``rows`` x ``seats_per_row`` seats, one category at 45.00 EUR."""
    return EventFactory(organizer=organizer, rows=rows, seats_per_row=seats_per_row, **fields)


def create_ga_event(organizer, capacity=10, **fields):
    """A general-admission event on sale for ``capacity`` people, standing at 30.00 EUR."""
    return GeneralAdmissionEventFactory(organizer=organizer, capacity=capacity, **fields)


@pytest.fixture
def organizer(make_user):
    """A staff member who organizes events (``seated_event`` is theirs)."""
    return make_user("organizer", is_staff=True)


@pytest.fixture
def seated_event(organizer):
    return create_seated_event(organizer)


def seat_ids(event):
    return list(event.seat_map.seats.order_by("id").values_list("id", flat=True))


# The API server's database connections carry this name: a test can cut off those alone.
API_SERVER_APP_NAME = "tests-api-server"


@pytest.fixture(scope="session")
def api_server(django_db_setup, artifacts_dir):
    """The API under gunicorn (as in production) on the test database; yields its base URL."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    proc = _serve(
        [
            "gunicorn",
            "ticketing.wsgi",
            "--workers",
            "2",
            "--threads",
            "4",  # as in the Procfile
            "--bind",
            f"127.0.0.1:{port}",
            "--backlog",
            "2048",
            "--limit-request-line",
            "8190",  # as in the Procfile: above nginx's limit
        ],
        artifacts_dir / "api-server.log",
        f"{url}/healthz",
        extra_env={"PGAPPNAME": API_SERVER_APP_NAME},
    )
    yield url
    proc.stop()


def nginx_in_front_of(web_port: int):
    """nginx with infrastructure/nginx.conf on a spare port, proxying the API to ``web_port``
    (the WebSocket upstream's port is closed); yields its port."""
    port, dead = free_port(), free_port()
    config = (ROOT / "infrastructure" / "nginx.conf").read_text()
    config = config.replace("listen 8000;", f"listen 127.0.0.1:{port};")
    config = config.replace("127.0.0.1:8001", f"127.0.0.1:{web_port}")
    config = config.replace("127.0.0.1:8002", f"127.0.0.1:{dead}")
    prefix = Path(tempfile.mkdtemp(prefix="nginx-test-"))
    prefix.chmod(0o755)  # nginx's workers run as an unprivileged user and read static files
    for folder in ("var/nginx", "var/run", "var/log", "var/static"):
        (prefix / folder).mkdir(parents=True)
    (prefix / "var/static/site.css").write_text("body {}")
    (prefix / "nginx.conf").write_text(config)
    proc = subprocess.Popen(
        ["nginx", "-p", f"{prefix}/", "-c", str(prefix / "nginx.conf")],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    deadline = time.monotonic() + 10
    while True:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            break
        if proc.poll() is not None or time.monotonic() > deadline:
            os.killpg(proc.pid, signal.SIGKILL)
            pytest.fail(f"nginx did not start: {proc.stdout.read().decode()}")
        time.sleep(0.05)
    yield port
    os.killpg(proc.pid, signal.SIGTERM)
    proc.wait(timeout=10)
    shutil.rmtree(prefix, ignore_errors=True)


@pytest.fixture(scope="session")
def proxied_api_server(api_server):
    """The API server behind the project's nginx, as `make run` serves it; yields its base URL."""
    port = int(api_server.rsplit(":", 1)[1])
    for proxy_port in nginx_in_front_of(port):
        yield f"http://127.0.0.1:{proxy_port}"


def _serve(
    args: list[str], log_path: Path, url: str, extra_env: dict | None = None
) -> ManagedProcess:
    """Start a server subprocess on the test database; returns it once ``url`` answers."""
    server = ManagedProcess(
        [sys.executable, "-m", *args],
        log_path=log_path,
        env=test_process_env(DATABASE_POOL_MAX="20", **(extra_env or {})),
    )
    return server.start(url_answers(url))


@pytest.fixture(scope="session")
def asgi_server(django_db_setup, artifacts_dir):
    """HTTP and WebSockets from ``ticketing.asgi`` under uvicorn; yields its base http URL."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    proc = _serve(
        [
            "uvicorn",
            "ticketing.asgi:application",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--lifespan",
            "off",
            "--log-level",
            "warning",
        ],
        artifacts_dir / "asgi-server.log",
        f"{url}/healthz",
    )
    yield url
    proc.stop()


@pytest.fixture
def notifier_worker(django_db_setup, artifacts_dir):
    """The notifier (emails) for one test: left running, it would send mail for later tests'
    bookings while their teardown empties the tables (a deadlock in PostgreSQL)."""
    worker = WorkerProcess(
        "notifications", artifacts_dir / "worker-notifications.log", pool="threads"
    ).start()
    yield worker
    worker.stop()


CSRF_TOKEN = "t" * 32


def session_cookies(user) -> dict:
    """Cookies of a logged-in browser session for ``user`` (stored in the real database)."""
    from django.conf import settings as django_settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.sessions.backends.db import SessionStore

    session = SessionStore()
    session[SESSION_KEY] = str(user.pk)
    session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    session.save()
    return {django_settings.SESSION_COOKIE_NAME: session.session_key, "csrftoken": CSRF_TOKEN}


def browser_headers() -> dict:
    return {"X-CSRFToken": CSRF_TOKEN}
