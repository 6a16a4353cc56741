"""Each Celery worker and beat serves its Prometheus metrics on ``METRICS_PORT`` (loopback).

Started in the main process before the pool: a prefork worker's children write their values
to the group's multiprocess directory and this one exporter adds them up
(``shared.metrics.registry``). The worker that consumes the ``periodic`` queue also exports
the system-wide gauges (``ticketing.ops_metrics``): one process, so they are read once a
scrape.
"""

from __future__ import annotations

import logging

from celery.signals import beat_init, worker_init
from django.conf import settings

from shared import metrics
from shared.messaging import PERIODIC_QUEUE

log = logging.getLogger(__name__)


@worker_init.connect
def serve_worker_metrics(sender, **kwargs) -> None:
    collectors = []
    if PERIODIC_QUEUE in sender.app.amqp.queues.consume_from:
        from ticketing.ops_metrics import OperationsCollector

        collectors.append(OperationsCollector(sender.app))
    _serve(collectors)


@beat_init.connect
def serve_beat_metrics(sender, **kwargs) -> None:
    _serve([])


def _serve(collectors) -> None:
    port = settings.METRICS_PORT
    if port and metrics.start_exporter(port, collectors):
        log.info("metrics on http://127.0.0.1:%s/metrics", port)
