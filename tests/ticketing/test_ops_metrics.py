"""The system-wide gauges the periodic worker exports (ticketing/ops_metrics.py): read from the
real RabbitMQ, PostgreSQL and Redis at scrape time, and a source that is down is reported as
such within the deadline instead of holding the scrape."""

import time

import pytest
from celery import Celery

from tests.conftest import free_port
from ticketing import broker
from ticketing.ops_metrics import DEADLINE_SECONDS, OperationsCollector

pytestmark = pytest.mark.django_db(transaction=True)  # read from threads of their own


def samples(app) -> dict:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in OperationsCollector(app).collect()
        for s in family.samples
    }


def test_every_source_is_read_into_gauges():
    from ticketing.celery import app

    with app.connection_for_write() as conn:  # every queue exists, as after a worker's start
        broker.declare_topology(app, conn)

    got = samples(app)

    for source in ("rabbitmq", "postgresql", "redis"):
        assert got[("ticketing_metrics_source_up", (("source", source),))] == 1
    for queue in ("bookings", "notifications", "sales", "payments", "periodic"):
        assert ("ticketing_queue_messages", (("queue", queue),)) in got
    for queue in broker.DEAD_LETTERED:
        assert ("ticketing_dead_letters", (("queue", queue),)) in got
    assert got[("ticketing_outbox_lag_seconds", ())] == 0  # nothing waits in the outbox
    assert got[("ticketing_payment_breaker_state", (("state", "closed"),))] == 1


def test_a_broker_that_is_down_is_reported_without_holding_the_scrape():
    from ticketing.celery import app

    closed = f"amqp://ticketing:ticketing@127.0.0.1:{free_port()}/x"  # nothing listens there
    unreachable = Celery("unreachable")
    unreachable.conf.update(app.conf, broker_url=closed, broker_read_url=closed)

    started = time.monotonic()
    got = samples(unreachable)

    assert time.monotonic() - started < DEADLINE_SECONDS + 1
    assert got[("ticketing_metrics_source_up", (("source", "rabbitmq"),))] == 0
    assert not any(name == "ticketing_queue_messages" for name, _ in got)
    assert got[("ticketing_metrics_source_up", (("source", "postgresql"),))] == 1
