"""System-wide gauges read at scrape time: queue depths, dead letters, outbox lag, the payment
circuit.

They describe shared state (RabbitMQ, PostgreSQL, Redis), not one process, so one process
exports them: the worker of the ``periodic`` queue (``ticketing/celery_metrics.py``). The three
sources are read side by side, each with short timeouts of its own, and the scrape waits for
them at most ``DEADLINE_SECONDS`` (a database pool may wait longer for a connection): a source
that has not answered by then is reported by ``ticketing_metrics_source_up`` = 0 and its gauges
are left out, so a scrape never hangs on an outage nor reports a stale figure as current.
"""

from __future__ import annotations

import logging
import threading
import time

from django.db import connection, transaction
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from payments.breaker import provider_circuit_state
from registration_worker.selectors import outbox_lag_seconds
from ticketing import broker

log = logging.getLogger(__name__)

TIMEOUT_SECONDS = 2.0  # each source's own connect and read timeouts
DEADLINE_SECONDS = 3.0  # the longest a scrape waits for all of them
_BREAKER_STATES = ("closed", "open", "half-open")


class _Read(threading.Thread):
    """One source read in a daemon thread: a read that hangs is abandoned, never waited for."""

    def __init__(self, source: str, read):
        super().__init__(name=f"metrics-{source}", daemon=True)
        self.source, self.read = source, read
        self.families: list | None = None
        self.error: Exception | None = None

    def run(self):
        try:
            self.families = list(self.read())
        except Exception as exc:  # an outage: reported as the source being down
            self.error = exc


class OperationsCollector(Collector):
    def __init__(self, app):
        self.app = app

    def describe(self):
        return []  # nothing to read when registered: the sources are read at scrape time

    def collect(self):
        up = GaugeMetricFamily(
            "ticketing_metrics_source_up",
            "Whether the last scrape could read a source of the system-wide gauges.",
            labels=["source"],
        )
        reads = [
            _Read("rabbitmq", self._queues),
            _Read("postgresql", self._outbox),
            _Read("redis", self._breaker),
        ]
        for read in reads:
            read.start()
        deadline = time.monotonic() + DEADLINE_SECONDS
        for read in reads:
            read.join(max(0.0, deadline - time.monotonic()))
            if read.families is None:
                error = read.error or TimeoutError(f"no answer within {DEADLINE_SECONDS} s")
                log.warning("metrics: %s unreadable: %s: %s", read.source,
                            type(error).__name__, error)  # fmt: skip
                up.add_metric([read.source], 0)
                continue
            up.add_metric([read.source], 1)
            yield from read.families
        yield up

    def _queues(self):
        depths = broker.queue_depths(self.app, timeout=TIMEOUT_SECONDS)
        ready = GaugeMetricFamily(
            "ticketing_queue_messages", "Messages ready in each work queue.", labels=["queue"]
        )
        consumers = GaugeMetricFamily(
            "ticketing_queue_consumers", "Consumers of each work queue.", labels=["queue"]
        )
        dead = GaugeMetricFamily(
            "ticketing_dead_letters",
            "Messages in each work queue's dead-letter queue (<queue>.dlq).",
            labels=["queue"],
        )
        for name, (count, consuming) in depths.items():
            if name.endswith(".dlq"):
                dead.add_metric([name.removesuffix(".dlq")], count)
            else:
                ready.add_metric([name], count)
                consumers.add_metric([name], consuming)
        return ready, consumers, dead

    def _outbox(self):
        try:
            with transaction.atomic():
                with connection.cursor() as cursor:
                    cursor.execute("SET LOCAL statement_timeout = 2000")  # TIMEOUT_SECONDS
                lag = outbox_lag_seconds()
        finally:
            # Each scrape runs in a thread of its own: give its connection back.
            connection.close()
        yield GaugeMetricFamily(
            "ticketing_outbox_lag_seconds",
            "Age of the oldest outbox row not relayed yet (0: nothing waits).",
            value=lag,
        )

    def _breaker(self):
        state = provider_circuit_state()
        family = GaugeMetricFamily(
            "ticketing_payment_breaker_state",
            "The payment provider's circuit breaker: 1 for its current state.",
            labels=["state"],
        )
        for name in _BREAKER_STATES:
            family.add_metric([name], 1 if name == state else 0)
        yield family
