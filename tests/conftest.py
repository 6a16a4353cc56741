"""Fixtures shared by every test: real Redis (test databases), real worker processes, data."""

import os
import signal
import subprocess
import sys
import time
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
import redis
from django.conf import settings
from django.utils import timezone

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

    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        busy = Booking.objects.filter(status__in=["pending", "pending_payment"]).exists()
        if not busy and not OutboxMessage.objects.filter(sent_at__isnull=True).exists():
            break
        time.sleep(0.1)
    time.sleep(0.3)  # the relay's pushes and the task's ack follow its commit


@pytest.fixture(autouse=True)
def clean_redis():
    """Each test starts with empty seat locks, channel layer and cache, and no stale caches."""
    from ticketing import selectors
    from ticketing.auth.authentication import token_users
    from ticketing.services import event_rules

    for url in _redis_urls():
        client = redis.Redis.from_url(url)
        client.flushdb()
        client.close()
    event_rules._local.clear()
    selectors._pricing_cache.clear()
    token_users.clear()
    yield


def test_database_url() -> str:
    db = settings.DATABASES["default"]
    return f"postgres://{db['USER']}:{db['PASSWORD']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"


test_database_url.__test__ = False


class WorkerProcess:
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
        self.log_path = log_path
        self.concurrency = concurrency
        self.pool = pool
        self.extra_args = extra_args
        self.proc: subprocess.Popen | None = None

    def start(self):
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "ticketing.settings_test",
            "DATABASE_URL": test_database_url(),
        }
        self.log_offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        self.log = open(self.log_path, "ab")  # noqa: SIM115 (closed in stop)
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "ticketing",
                "worker",
                "-Q",
                self.queues,
                "-c",
                str(self.concurrency),
                "--pool",
                self.pool,
                "-n",
                f"test-{self.queues}-{os.getpid()}@%h",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
                "-l",
                "INFO",
                *self.extra_args,
            ],
            cwd=ROOT,
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if b" ready." in self.log_path.read_bytes()[self.log_offset :]:
                return self
            if self.proc.poll() is not None:
                raise RuntimeError(f"worker exited; see {self.log_path}")
            time.sleep(0.2)
        raise RuntimeError(f"worker did not start; see {self.log_path}")

    def child_pids(self) -> list[int]:
        out = subprocess.run(
            ["pgrep", "-P", str(self.proc.pid)], capture_output=True, text=True, check=False
        )
        return [int(p) for p in out.stdout.split()]

    def kill(self):
        """SIGKILL the whole worker, as an OOM killer or a lost machine would."""
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait()
        self.log.close()

    def stop(self):
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self.log.close()


def purge_test_queues():
    from ticketing.celery import app

    with app.connection_for_write() as conn:
        channel = conn.default_channel
        for queue in ("bookings", "notifications", "bookings.dlq"):
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
def make_user(django_user_model):
    counter = {"n": 0}

    def make(name=None, **extra):
        counter["n"] += 1
        name = name or f"buyer{counter['n']}-{time.monotonic_ns()}"
        return django_user_model.objects.create_user(
            username=name, email=f"{name}@example.com", password="pw", **extra
        )

    return make


def create_seated_event(organizer, rows=2, seats_per_row=5, **fields):
    """A theatre event on sale: ``rows`` x ``seats_per_row`` seats, one category at 45.00 EUR."""
    from seatmaps.models import Seat, SeatMap, Section
    from ticketing.models import Event, PriceCategory, Venue

    venue = Venue.objects.create(name="Test Theatre", city="Berlin", address="Main St 1")
    seat_map = SeatMap.objects.create(venue=venue, name="Main", kind="procedural")
    section = Section.objects.create(seat_map=seat_map, code="stalls", name="Stalls")
    Seat.objects.bulk_create(
        Seat(
            seat_map=seat_map,
            section=section,
            row_label=chr(ord("A") + r),
            number=str(n + 1),
            label=f"Row {chr(ord('A') + r)} Seat {n + 1}",
            x=n * 10,
            y=r * 10,
        )
        for r in range(rows)
        for n in range(seats_per_row)
    )
    now = timezone.now()
    event = Event.objects.create(
        organizer=organizer,
        title=fields.pop("title", "Test Concert"),
        slug=f"event-{time.monotonic_ns()}",
        venue=venue,
        seat_map=seat_map,
        starts_at=now + timedelta(days=30),
        ends_at=now + timedelta(days=30, hours=3),
        status=fields.pop("status", Event.Status.ON_SALE),
        **fields,
    )
    category = PriceCategory.objects.create(event=event, name="Category A", price=Decimal("45.00"))
    category.sections.add(section)
    return event


def create_ga_event(organizer, capacity=10, **fields):
    from ticketing.models import Event, PriceCategory, Venue

    venue = Venue.objects.create(name="Open Air", city="Hamburg")
    now = timezone.now()
    event = Event.objects.create(
        organizer=organizer,
        title=fields.pop("title", "Festival"),
        slug=f"ga-{time.monotonic_ns()}",
        venue=venue,
        capacity=capacity,
        starts_at=now + timedelta(days=10),
        ends_at=now + timedelta(days=10, hours=8),
        status=fields.pop("status", Event.Status.ON_SALE),
        **fields,
    )
    PriceCategory.objects.create(event=event, name="Standing", price=Decimal("30.00"))
    return event


@pytest.fixture
def organizer(make_user):
    return make_user("organizer", is_staff=True)


@pytest.fixture
def seated_event(organizer):
    return create_seated_event(organizer)


def seat_ids(event):
    return list(event.seat_map.seats.order_by("id").values_list("id", flat=True))


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


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
            "8",
            "--bind",
            f"127.0.0.1:{port}",
            "--backlog",
            "2048",
        ],
        artifacts_dir / "api-server.log",
        f"{url}/healthz",
    )
    yield url
    _stop(proc)


def _serve(args: list[str], log_path: Path, url: str):
    """Start a server subprocess on the test database; returns it once ``url`` answers."""
    import httpx

    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "ticketing.settings_test",
        "DATABASE_URL": test_database_url(),
        "DATABASE_POOL_MAX": "20",
    }
    with open(log_path, "ab") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", *args], cwd=ROOT, env=env, stdout=log,
            stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            time.sleep(0.2)
    os.killpg(proc.pid, signal.SIGKILL)
    raise RuntimeError(f"{args[0]} did not start; see {log_path}")


def _stop(proc):
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


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
    _stop(proc)


@pytest.fixture
def notifier_worker(django_db_setup, artifacts_dir):
    """The notifier (emails) for one test: left running, it would send mail for later tests'
    bookings while their teardown empties the tables (a deadlock in PostgreSQL)."""
    worker = WorkerProcess("notifications", artifacts_dir / "worker-notifications.log").start()
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
