"""Every Prometheus metric of the platform, and how a process exports them.

The metrics are defined here once (names prefixed ``ticketing_``) and updated at the service
seams: the request middleware (``ticketing/metrics.py``), the hold and registration services,
the booking worker's batches, the WebSocket fan-out and the payments saga. Updating one costs
an in-memory (or memory-mapped) write: no I/O, nothing that waits.

A process group that forks (gunicorn's and uvicorn's workers, Celery's prefork children) runs
in prometheus-client's multiprocess mode: ``PROMETHEUS_MULTIPROC_DIR`` names a directory of
its own, emptied when the group starts (``infrastructure/metrics_dir.sh`` in the Procfile),
where each process keeps its values in files; the group's exporter adds them up. Without the
variable (tests, ``manage.py``) a process exports its own values.

Where they are exported: the web and ws processes at ``/metrics`` on their own loopback ports
(8001, 8002; nginx does not forward it), every Celery worker and beat on ``METRICS_PORT``
(``ticketing/celery_metrics.py``). System-wide gauges (queue depths, dead letters, outbox lag,
the payment circuit) are read at scrape time by one process (``ticketing/ops_metrics.py``).
"""

from __future__ import annotations

import glob
import os

from prometheus_client import (
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    start_http_server,
)
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead

MULTIPROC_DIR_ENV = "PROMETHEUS_MULTIPROC_DIR"

# --- HTTP (web and ws) ----------------------------------------------------------------------
# Labelled by the URL pattern that served the request (``api/v1/events/<int:event_id>/holds/``),
# never the raw path, so an event id or a scanner's random URLs add no series.
HTTP_REQUESTS = Counter(
    "ticketing_http_requests_total",
    "HTTP requests answered, by URL pattern, method and status code.",
    ["route", "method", "status"],
)
HTTP_LATENCY = Histogram(
    "ticketing_http_request_duration_seconds",
    "Time from the request reaching Django to its response, by URL pattern and method.",
    ["route", "method"],
    buckets=(0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)

# --- the booking path -----------------------------------------------------------------------
HOLDS = Counter(
    "ticketing_holds_total",
    "Hold attempts by outcome: held, or the error code the buyer got (seats_unavailable, ...).",
    ["outcome"],
)
REGISTRATIONS = Counter(
    "ticketing_registrations_total",
    "Registration requests by outcome: accepted (queued), replayed, the booking's status "
    "(simple), or the error code the buyer got.",
    ["outcome"],
)
BOOKINGS = Counter(
    "ticketing_bookings_total",
    "Bookings decided, by flow (simple: in the request, queued: by the worker) and outcome "
    "(confirmed, pending_payment, or the failure reason).",
    ["flow", "outcome"],
)
BOOKING_BATCH_SIZE = Histogram(
    "ticketing_booking_batch_size",
    "Commands per batch of the booking worker.",
    buckets=(1, 2, 5, 10, 20, 50, 100, 200, 500),
)
BOOKING_BATCH_SECONDS = Histogram(
    "ticketing_booking_batch_duration_seconds",
    "Time the booking worker took to book one batch, retries included.",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
BOOKING_LATENCY = Histogram(
    "ticketing_booking_latency_seconds",
    "Time from a queued registration's acceptance to the worker's decision (queue wait included).",
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300),
)

# --- WebSockets (ws) --------------------------------------------------------------------------
WS_CONNECTIONS = Gauge(
    "ticketing_ws_connections",
    "Open WebSockets by feed: seats (a seat map) or bookings (a buyer's /ws/me/).",
    ["feed"],
    multiprocess_mode="livesum",  # the sum over the live ws processes
)
WS_FANOUT_SECONDS = Histogram(
    "ticketing_ws_fanout_duration_seconds",
    "Time to hand one event's batch of seat changes to every local watcher of that event.",
    buckets=(0.0001, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5),
)

# --- payments ---------------------------------------------------------------------------------
PAYMENT_STEPS = Counter(
    "ticketing_payment_steps_total",
    "Steps of the payments saga by outcome: the bank's answer to a charge, lookup or refund "
    "(approved, declined, unknown, not_found; circuit_open when it was not called), or done.",
    ["step", "outcome"],
)
PAYMENT_BREAKER_TRANSITIONS = Counter(
    "ticketing_payment_breaker_transitions_total",
    "Changes of the payment provider's circuit breaker, by the state it entered.",
    ["state"],
)


# --- export -----------------------------------------------------------------------------------


class _ProcessGroupCollector:
    """The values of every process of this group, read from their files at scrape time."""

    def __init__(self, path: str):
        self.path = path
        self.files = MultiProcessCollector(None, path)

    def collect(self):
        _forget_dead_processes(self.path)
        return self.files.collect()


def _forget_dead_processes(path: str) -> None:
    """Drop the live gauges (open WebSockets) of processes that died without saying so.

    Counters and histograms of a dead process stay: what it counted did happen. Gauges of
    ``livesum`` mode would otherwise count a killed worker's sockets for ever; no hook of
    uvicorn or Celery runs on a SIGKILL, so the exporter checks at each scrape.
    """
    for name in glob.glob(os.path.join(path, "gauge_live*_*.db")):
        pid = int(name.rsplit("_", 1)[1].removesuffix(".db"))
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            mark_process_dead(pid, path)
        except PermissionError:
            pass  # alive, under another user


def registry() -> CollectorRegistry:
    """What this process exports: its group's values in multiprocess mode, else its own."""
    path = os.environ.get(MULTIPROC_DIR_ENV)
    if not path:
        return REGISTRY
    group = CollectorRegistry()
    group.register(_ProcessGroupCollector(path))
    return group


_exporting: set[int] = set()


def start_exporter(port: int, collectors=()) -> bool:
    """Serve this process group's metrics (and ``collectors``) on 127.0.0.1:``port`` from a
    daemon thread; once per process (False if it already serves them)."""
    if os.getpid() in _exporting:
        return False
    served = registry()
    for collector in collectors:
        served.register(collector)
    start_http_server(port, addr="127.0.0.1", registry=served)
    _exporting.add(os.getpid())
    return True
