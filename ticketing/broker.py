"""RabbitMQ's topology, declared in one place before any worker consumes or beat publishes.

Every work queue (``task_queues`` in ``ticketing/celery_config.py``) is a quorum queue behind
a topic exchange, with a delivery limit and its own dead-letter exchange and queue
(``<queue>.dlx`` -> ``<queue>.dlq``); a topic exchange lets a retry with a countdown travel
through RabbitMQ's native delayed delivery (kombu's ``celery_delayed_*`` exchanges and TTL
queues, declared here as well) instead of waiting unacknowledged in a worker. ``periodic``
carries beat's ticks so they never wait behind a backlog of bookings.

``declare_topology`` runs at the start of every worker and of beat (signals in
``ticketing/celery.py``) and as ``manage.py declare_broker``. A queue or exchange declared
earlier with other arguments (RabbitMQ refuses to change them) is recreated when that loses
nothing: an exchange always (bindings are declared again), a queue only while it is empty.

Dead letters: ``dead_letter_counts`` (for ``/readyz`` details and metrics) and
``replay_dead_letters`` (``manage.py replay_dead_letters --queue bookings``).
"""

from __future__ import annotations

import logging

from amqp.exceptions import NotFound, PreconditionFailed
from celery.worker.consumer import Consumer
from kombu import Connection, Exchange, Queue
from kombu.transport.native_delayed_delivery import (
    bind_queue_to_native_delayed_delivery_exchange,
    declare_native_delayed_delivery_exchanges_and_queues,
)

log = logging.getLogger(__name__)

# Work queues whose poison messages end in a dead-letter queue.
DEAD_LETTERED = ("bookings", "payments", "notifications", "sales")
# Headers RabbitMQ adds while dead-lettering; a replayed message starts afresh without them.
_DEATH_HEADERS = ("x-death", "x-first-death-exchange", "x-first-death-queue",
                  "x-first-death-reason", "x-last-death-exchange", "x-last-death-queue",
                  "x-last-death-reason", "x-delivery-count")  # fmt: skip


def dead_letter_queue(queue: str) -> Queue:
    return Queue(
        f"{queue}.dlq",
        Exchange(f"{queue}.dlx", type="direct"),
        routing_key=f"{queue}.dlq",
        queue_arguments={"x-queue-type": "quorum"},
    )


def declare_topology(app, connection: Connection | None = None) -> None:
    """Declare every exchange, queue and binding the processes rely on (idempotent)."""
    if connection is None:
        with app.connection_for_write() as conn:
            conn.ensure_connection(
                errback=_broker_unreachable, interval_start=1, interval_step=2, interval_max=10
            )
            declare_topology(app, conn)
        return
    work = list(app.conf.task_queues)
    for queue in [*(dead_letter_queue(q) for q in DEAD_LETTERED), *work]:
        _declare_exchange(connection, queue.exchange)
        _declare_queue(connection, queue)
    declare_native_delayed_delivery_exchanges_and_queues(
        connection, app.conf.broker_native_delayed_delivery_queue_type
    )
    for queue in work:
        bind_queue_to_native_delayed_delivery_exchange(connection, queue)
    log.info("broker topology declared: %s", ", ".join(q.name for q in work))


def _broker_unreachable(exc, interval):
    log.warning("RabbitMQ unreachable (%s); declaring the topology again in %s s", exc, interval)


def _declare_exchange(connection: Connection, exchange: Exchange) -> None:
    try:
        exchange(connection.channel()).declare()
    except PreconditionFailed:
        # Declared earlier as another type: an exchange holds no messages, so recreate it.
        log.warning("exchange %s had other settings; recreating it", exchange.name)
        exchange(connection.channel()).delete()
        exchange(connection.channel()).declare()


def _declare_queue(connection: Connection, queue: Queue) -> None:
    try:
        queue(connection.channel()).declare()
        return
    except PreconditionFailed as exc:
        refusal = exc
    _, waiting, _consumers = connection.channel().queue_declare(queue.name, passive=True)
    if waiting:
        # Recreating it would lose these messages: the operator drains it first.
        log.error("queue %s has %s messages and old arguments (%s)", queue.name, waiting, refusal)
        return
    log.warning("queue %s had other arguments; recreating it empty", queue.name)
    connection.channel().queue_delete(queue.name)
    queue(connection.channel()).declare()


def dead_letter_counts(app=None) -> dict[str, int]:
    """Messages waiting in each dead-letter queue, by work queue (for /readyz and metrics)."""
    app = app or _app()
    counts = {}
    with app.connection_for_read() as conn:
        for queue in DEAD_LETTERED:
            try:
                counts[queue] = conn.channel().queue_declare(f"{queue}.dlq", passive=True)[1]
            except NotFound:
                counts[queue] = 0  # never declared: nothing died yet
    return counts


def queue_depths(app=None, *, timeout: float = 2.0) -> dict[str, tuple[int, int]]:
    """(messages ready, consumers) of every work queue and dead-letter queue, by queue name.

    One connection with short timeouts (for metrics, read at scrape time); a queue never
    declared counts as empty.
    """
    app = app or _app()
    names = [q.name for q in app.conf.task_queues] + [f"{q}.dlq" for q in DEAD_LETTERED]
    depths = {}
    with app.connection_for_read(
        connect_timeout=timeout,
        transport_options={"read_timeout": timeout, "write_timeout": timeout},
    ) as conn:
        for name in names:
            try:
                _, ready, consumers = conn.channel().queue_declare(name, passive=True)
            except NotFound:
                ready = consumers = 0
            depths[name] = (ready, consumers)
    return depths


def replay_dead_letters(queue: str, limit: int | None = None, app=None) -> int:
    """Move dead letters of ``queue`` back to it, each acked only after RabbitMQ confirmed
    its copy (publisher confirms). Returns how many were replayed."""
    if queue not in DEAD_LETTERED:
        raise ValueError(f"{queue!r} has no dead-letter queue; one of {DEAD_LETTERED}")
    app = app or _app()
    target = next(q for q in app.conf.task_queues if q.name == queue)
    replayed = 0
    with app.connection_for_write() as conn:
        source = dead_letter_queue(queue)(conn.channel())
        producer = conn.Producer()
        while limit is None or replayed < limit:
            message = source.get(no_ack=False, accept=None)
            if message is None:
                break
            headers = {k: v for k, v in message.headers.items() if k not in _DEATH_HEADERS}
            properties = {
                key: message.properties[key]
                for key in ("correlation_id", "reply_to", "priority")
                if message.properties.get(key) is not None
            }
            producer.publish(
                message.body,
                exchange=target.exchange,
                routing_key=target.routing_key,
                headers=headers,
                content_type=message.content_type,
                content_encoding=message.content_encoding,
                delivery_mode=2,
                retry=False,
                **properties,
            )
            message.ack()
            replayed += 1
    log.info("replayed %s dead letters to %s", replayed, queue)
    return replayed


def _app():
    from ticketing.celery import app

    return app


class DeadLetteringConsumer(Consumer):
    """Celery's worker consumer, except that a message it cannot decode is rejected (to the
    queue's dead-letter exchange) instead of acknowledged and lost."""

    def on_decode_error(self, message, exc):
        log.error("undecodable message (%s, %s) sent to the dead letters: %s",
                  message.content_type, message.content_encoding, exc)  # fmt: skip
        message.reject_log_error(log, self.connection_errors)
