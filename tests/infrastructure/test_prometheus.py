"""Debian's Prometheus scrapes every process of `make run` and sees a booking.

The processes are those of infrastructure/Procfile with the same programs, pools and metrics
settings (a multiprocess directory per process group, a METRICS_PORT per Celery process), on
free ports, the test database and the test vhost. Prometheus (installed by
infrastructure/provision.sh) gets a generated configuration with the same jobs as
infrastructure/prometheus.yml, pointed at those ports, and is asked through its HTTP API.
"""

import json
import re
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
import yaml
from websockets.sync.client import connect

from infrastructure.processes import ManagedProcess, free_port, port_accepts, url_answers
from tests.conftest import (
    SINGLE_REDIS_BOOKING_WORKERS,
    WorkerProcess,
    browser_headers,
    create_seated_event,
    purge_test_queues,
    seat_ids,
    session_cookies,
    test_process_env,
)

ROOT = Path(__file__).resolve().parents[2]
INFRA = ROOT / "infrastructure"


class Stack:
    """The processes of the Procfile that export metrics, by Prometheus job name."""

    def __init__(self, tmp: Path, log_dir: Path):
        self.tmp, self.log_dir = tmp, log_dir
        self.starts: list[tuple[ManagedProcess, Callable[[], object]]] = []
        self.targets: dict[str, int] = {}  # job -> port of its /metrics

    def _env(self, job: str, **extra) -> dict:
        multiproc = self.tmp / "metrics" / job
        multiproc.mkdir(parents=True)
        return test_process_env(PROMETHEUS_MULTIPROC_DIR=str(multiproc), **extra)

    def server(self, job: str, args: list[str]) -> None:
        """An HTTP server whose arguments name its port ``{port}``."""
        port = self.targets[job] = free_port()
        process = ManagedProcess(
            [sys.executable, "-m", *(a.format(port=port) for a in args)],
            log_path=self.log_dir / f"prometheus-{job}.log",
            env=self._env(job, DATABASE_POOL_MAX="10"),
        )
        ready = url_answers(f"http://127.0.0.1:{port}/healthz")
        self.starts.append((process, lambda: process.start(ready)))

    def worker(self, job: str, queue: str, pool: str, concurrency: int, *extra) -> None:
        port = self.targets[job] = free_port()
        log = self.log_dir / f"prometheus-{job}.log"
        worker = WorkerProcess(queue, log, concurrency, pool, tuple(extra))
        worker.env = self._env(job, METRICS_PORT=str(port))
        self.starts.append((worker, worker.start))

    def beat(self) -> None:
        port = self.targets["beat"] = free_port()
        schedule = self.tmp / "celerybeat-schedule"
        beat = ManagedProcess(
            [sys.executable, "-m", "celery", "-A", "ticketing", "beat", "-s", str(schedule)],
            log_path=self.log_dir / "prometheus-beat.log",
            env=self._env("beat", METRICS_PORT=str(port)),
        )
        self.starts.append((beat, lambda: beat.start(port_accepts(port))))

    def start(self) -> None:
        """Start every process side by side (each takes seconds to boot)."""
        with ThreadPoolExecutor() as pool:
            list(pool.map(lambda start: start(), [start for _, start in self.starts]))

    def stop(self) -> None:
        with ThreadPoolExecutor() as pool:
            list(pool.map(lambda process: process.stop(), [p for p, _ in self.starts]))


@pytest.fixture
def stack(transactional_db, artifacts_dir, tmp_path):
    """Stopped before the test's tables are emptied (set up after ``transactional_db``): a
    worker still writing then would deadlock with the TRUNCATE."""
    # The session's booking worker would take our command and count it where nobody scrapes.
    paused = list(SINGLE_REDIS_BOOKING_WORKERS)
    for worker in paused:
        worker.stop()
    purge_test_queues()
    system = Stack(tmp_path / "stack", artifacts_dir)
    try:
        system.server(
            "web",
            ["gunicorn", "ticketing.wsgi", "--workers", "2", "--threads", "4",
             "--bind", "127.0.0.1:{port}"],
        )  # fmt: skip
        system.server(
            "ws",
            ["uvicorn", "ticketing.asgi:application", "--host", "127.0.0.1", "--port", "{port}",
             "--workers", "2", "--no-access-log",
             "--ws", "notifications.ws_server:PreparedFrameProtocol"],
        )  # fmt: skip
        system.worker("worker", "bookings", "threads", 8, "--prefetch-multiplier", "24")
        system.worker("payments", "payments", "threads", 4)
        system.worker("notifier", "notifications", "threads", 2)
        system.worker("projector", "sales", "threads", 1)
        system.worker("periodic", "periodic", "threads", 4)
        system.beat()
        system.start()
        yield system
    finally:
        system.stop()
        purge_test_queues()
        for worker in paused:
            worker.start()


def _prometheus_config(targets: dict[str, int]) -> dict:
    """infrastructure/prometheus.yml with each job pointed at the test's port, scraped every
    second."""
    config = yaml.safe_load((INFRA / "prometheus.yml").read_text())
    config["global"].update(scrape_interval="1s", scrape_timeout="1s")
    for job in config["scrape_configs"]:
        job["static_configs"] = [{"targets": [f"127.0.0.1:{targets[job['job_name']]}"]}]
    return config


@pytest.fixture
def prometheus(stack, tmp_path, artifacts_dir):
    """Debian's prometheus scraping the stack; yields its base URL."""
    tmp = tmp_path / "prometheus"
    tmp.mkdir()
    config = tmp / "prometheus.yml"
    config.write_text(yaml.safe_dump(_prometheus_config(stack.targets)))
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    server = ManagedProcess(
        ["prometheus", f"--config.file={config}", f"--storage.tsdb.path={tmp / 'data'}",
         f"--web.listen-address=127.0.0.1:{port}"],
        log_path=artifacts_dir / "prometheus.log",
    )  # fmt: skip
    server.start(url_answers(f"{url}/-/ready"))
    yield url
    server.stop()


def query(prometheus: str, expr: str) -> list[dict]:
    answer = httpx.get(f"{prometheus}/api/v1/query", params={"query": expr}, timeout=5).json()
    assert answer["status"] == "success", (expr, answer)
    return answer["data"]["result"]


def value(prometheus: str, expr: str) -> float | None:
    """The single value of ``expr`` now, or None when it has no series."""
    result = query(prometheus, expr)
    assert len(result) <= 1, result
    return float(result[0]["value"][1]) if result else None


def eventually(check, timeout: float = 30):
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result or time.monotonic() > deadline:
            return result
        time.sleep(0.5)


@pytest.mark.django_db(transaction=True)
def test_prometheus_scrapes_every_process_and_counts_a_booking(
    stack, prometheus, make_user, organizer
):
    # Given every process up and scraped
    def targets():
        active = httpx.get(f"{prometheus}/api/v1/targets", timeout=5).json()["data"]
        return {t["labels"]["job"]: t for t in active["activeTargets"]}

    def health():
        return {job: t["health"] for job, t in targets().items()}

    every_one_up = dict.fromkeys(stack.targets, "up")
    assert eventually(lambda: health() == every_one_up), targets()

    # When a buyer holds two seats and books them through the queue while someone watches
    event = create_seated_event(organizer, registration_mode="queued")
    seats = seat_ids(event)[:2]
    buyer = make_user()
    web = f"http://127.0.0.1:{stack.targets['web']}"
    api = httpx.Client(base_url=web, cookies=session_cookies(buyer), headers=browser_headers())
    ws = f"ws://127.0.0.1:{stack.targets['ws']}/ws/events/{event.pk}/"
    with connect(ws, origin="http://localhost:8000") as watcher:
        assert json.loads(watcher.recv(timeout=10))["type"] == "snapshot"
        hold = api.post(f"/api/v1/events/{event.pk}/holds/", json={"seats": seats})
        assert hold.status_code == 201, hold.text
        accepted = api.post(
            "/api/v1/registrations/",
            json={"hold": hold.json()["id"]},
            headers={"Idempotency-Key": uuid.uuid4().hex},
        )
        assert accepted.status_code == 202, accepted.text
        status_url = accepted.json()["status_url"]
        assert eventually(lambda: api.get(status_url).json()["status"] == "confirmed"), api.get(
            status_url
        ).json()

        # Then Prometheus sees the worker's booking counter go to one
        confirmed = 'ticketing_bookings_total{job="worker", flow="queued", outcome="confirmed"}'
        assert eventually(lambda: value(prometheus, confirmed) == 1), query(prometheus, confirmed)
        # ... and the seat map's socket on the ws process, while it is open
        assert eventually(
            lambda: value(prometheus, 'ticketing_ws_connections{job="ws", feed="seats"}') == 1
        )
        fanouts = 'ticketing_ws_fanout_duration_seconds_count{job="ws"}'
        assert eventually(lambda: (value(prometheus, fanouts) or 0) >= 1)

    # ... the web's counters of the same requests, labelled by route, summed over its workers
    # (each target is scraped on its own schedule: the web's next scrape may still be due)
    holds_route = (
        'ticketing_http_requests_total{job="web", route="api/v1/events/<int:event_id>/holds/", '
        'method="POST", status="201"}'
    )
    for counted in (
        'ticketing_holds_total{job="web", outcome="held"}',
        'ticketing_registrations_total{job="web", outcome="accepted"}',
        holds_route,
        # ... and the worker's batch (one booking: one batch of one, unless redelivered)
        'ticketing_booking_latency_seconds_count{job="worker"}',
        'clamp_max(ticketing_booking_batch_size_count{job="worker"}, 1)',
    ):
        assert eventually(lambda counted=counted: value(prometheus, counted) == 1), counted
    # ... and the system-wide gauges, read by the periodic worker from every source
    readable = 'ticketing_metrics_source_up{job="periodic"} == 1'
    assert eventually(lambda: len(query(prometheus, readable)) == 3), query(
        prometheus, "ticketing_metrics_source_up"
    )
    assert value(prometheus, 'ticketing_queue_consumers{queue="bookings"}') >= 1
    assert value(prometheus, 'ticketing_dead_letters{queue="bookings"}') is not None
    assert eventually(lambda: value(prometheus, "ticketing_outbox_lag_seconds") == 0)
    assert value(prometheus, 'ticketing_payment_breaker_state{state="closed"}') == 1
    assert query(prometheus, "up == 0") == []  # every process still answers

    # The dashboard's queries are valid PromQL for this Prometheus
    for expr in _dashboard_queries():
        query(prometheus, expr.replace("$__rate_interval", "1m"))


def test_metrics_answer_loopback_only_and_never_through_nginx(api_server, proxied_api_server):
    web = api_server
    # Prometheus on the machine reads them
    local = httpx.get(f"{web}/metrics", timeout=5)
    assert local.status_code == 200
    assert "ticketing_http_request_duration_seconds" in local.text
    # A client behind the proxy (nginx puts its address last in X-Forwarded-For) is refused
    forwarded = httpx.get(f"{web}/metrics", headers={"X-Forwarded-For": "203.0.113.9"}, timeout=5)
    assert forwarded.status_code == 403
    assert "ticketing_" not in forwarded.text
    # ... and nginx does not forward /metrics at all
    public = httpx.get(f"{proxied_api_server}/metrics", timeout=5)
    assert public.status_code == 403
    assert "ticketing_" not in public.text


# --- the files in infrastructure/ -----------------------------------------------------------


def _dashboard_queries() -> list[str]:
    dashboard = json.loads((INFRA / "grafana" / "ticketing.json").read_text())
    return [target["expr"] for panel in dashboard["panels"] for target in panel.get("targets", [])]


def test_the_dashboard_only_uses_metrics_that_exist():
    defined = set()
    for source in (ROOT / "shared" / "metrics.py", ROOT / "ticketing" / "ops_metrics.py"):
        defined |= set(re.findall(r'"(ticketing_\w+)"', source.read_text()))
    used = {
        re.sub(r"_(bucket|sum|count)$", "", name)
        for expr in _dashboard_queries()
        for name in re.findall(r"ticketing_\w+", expr)
    }
    assert used and used <= defined, used - defined
    dashboard = json.loads((INFRA / "grafana" / "ticketing.json").read_text())
    ids = [panel["id"] for panel in dashboard["panels"]]
    assert len(ids) == len(set(ids))


def test_the_scrape_config_is_valid_and_covers_every_metrics_port_of_the_procfile():
    checked = subprocess.run(
        ["promtool", "check", "config", str(INFRA / "prometheus.yml")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    procfile = (INFRA / "Procfile").read_text()
    ports = {int(p) for p in re.findall(r"^\w+: METRICS_PORT=(\d+) ", procfile, re.M)}
    ports |= {8001, 8002}  # web and ws serve /metrics on their own ports
    ports.add(9111)  # the first booking worker: METRICS_PORT=$((9110 + instance))
    assert "METRICS_PORT=$((9110 + ${HONCHO_PROCESS_NAME##*.}))" in procfile
    config = yaml.safe_load((INFRA / "prometheus.yml").read_text())
    scraped = {
        int(target.rsplit(":", 1)[1])
        for job in config["scrape_configs"]
        for group in job["static_configs"]
        for target in group["targets"]
    }
    assert scraped == ports
    # Every Python process of the Procfile gets a multiprocess directory of its own.
    for line in re.findall(r"^(\w+): (.*)$", procfile, re.M):
        name, command = line
        if name not in ("proxy", "bank"):
            assert "infrastructure/metrics_dir.sh " in command, name


def test_each_process_group_starts_with_an_empty_multiprocess_directory_of_its_own(tmp_path):
    # given the files a previous run of worker.2 left behind
    stale = tmp_path / "var" / "metrics" / "worker.2" / "counter_4242.db"
    stale.parent.mkdir(parents=True)
    stale.write_bytes(b"old")
    # when the Procfile's wrapper starts worker.2 again
    show = 'echo "$PROMETHEUS_MULTIPROC_DIR"; ls -A "$PROMETHEUS_MULTIPROC_DIR"'
    started = subprocess.run(
        [str(INFRA / "metrics_dir.sh"), "sh", "-c", show],
        cwd=tmp_path,
        env={"PATH": "/usr/bin:/bin", "HONCHO_PROCESS_NAME": "worker.2"},
        capture_output=True,
        text=True,
        check=True,
    )
    # then the process runs with that directory, emptied
    assert started.stdout.splitlines() == [str(stale.parent)]
    assert stale.parent.is_dir() and not stale.exists()
