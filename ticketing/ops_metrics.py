"""System-wide gauges read at scrape time: queue depths, dead letters, outbox lag, the payment
circuit.

They describe shared state (RabbitMQ, PostgreSQL, Redis), not one process, so one process
exports them: the worker of the ``periodic`` queue (``ticketing/celery_metrics.py``). Each
source is read with short timeouts; one that does not answer is reported by
``ticketing_metrics_source_up`` = 0 and its gauges are left out of that scrape, so a scrape
never hangs on an outage and never reports a stale figure as current.
"""

from __future__ import annotations

import logging

from django.db import connection, transaction
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from payments.breaker import provider_circuit_state
from registration_worker.selectors import outbox_lag_seconds
from ticketing import broker

log = logging.getLogger(__name__)

TIMEOUT_SECONDS = 2.0
_BREAKER_STATES = ("closed", "open", "half-open")


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
        for source, read in (
            ("rabbitmq", self._queues),
            ("postgresql", self._outbox),
            ("redis", self._breaker),
        ):
            try:
                families = list(read())
            except Exception as exc:  # an outage: reported as a source down, not a failed scrape
                log.warning("metrics: %s unreadable: %s: %s", source, type(exc).__name__, exc)
                up.add_metric([source], 0)
                continue
            up.add_metric([source], 1)
            yield from families
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
