"""Consumer-side batching of ProcessBookingCommand for the booking worker (a Celery strategy).

Celery runs one task per message; a booking then pays a transaction and a WAL flush of its own.
This strategy (the task's ``Strategy``) buffers the delivered commands instead and hands them
to the thread pool as one batch when ``BOOKING_BATCH_SIZE`` have arrived or
``BOOKING_BATCH_WAIT_MS`` after the first one, whichever comes first, with at most two batches
running: under load the buffer fills while they run, so batches grow with the load. The batch runs
``batch.process_bookings`` and every message is acknowledged only after its batch committed,
so a worker killed mid-batch leaves the whole batch unacknowledged and RabbitMQ redelivers it
(booking ids make that idempotent).

Why not celery-batches: 0.11 requires celery < 5.7, and it acknowledges acks_late requests
even when the batch raised, which would drop accepted registrations on a database outage.
Here a batch that hits our own outage (Redis, PostgreSQL, RabbitMQ) runs again with backoff
(``retries.run_through_outages``) and is requeued, never acked, if the outage outlasts the
budget; a batch that fails otherwise is retried command by command, and a command that still
fails is requeued: the quorum queue's delivery limit then dead-letters it to ``bookings.dlq``.
An unreadable message goes to ``bookings.dlq`` at once.

Batching needs the thread pool (``--pool threads``, as in the Procfile): the batch keeps the
live messages, which a process pool could not receive. Other pools run one command per task.
"""

from __future__ import annotations

import logging
import threading
import time

from celery.concurrency.thread import TaskPool as ThreadPool
from celery.utils.log import get_logger
from celery.worker.strategy import default as default_strategy
from django.conf import settings
from django.db import close_old_connections

from registration_worker.retries import run_through_outages
from shared import metrics
from shared.contracts import ProcessBookingCommand
from shared.logs import traced
from shared.messaging import BOOKINGS_QUEUE
from shared.transient import is_transient

log = logging.getLogger(__name__)

# Batches booked at the same time. One runs Python while the other waits on PostgreSQL, Redis
# or RabbitMQ; more would only share the GIL, and commands arriving meanwhile gather into the
# next batch instead of many small ones.
_IN_FLIGHT = 2
_celery_log = get_logger(__name__)  # what ack/reject log their errors to
# A command booked alone after its batch failed for another reason: a short retry budget, the
# delivery limit bounds the rest.
_ONE_BY_ONE_BUDGET_SECONDS = 10.0


class _Delivery:
    """One delivered message with the consumer's ack and reject (safe from any thread)."""

    __slots__ = ("ack", "message", "reject")

    def __init__(self, message, ack, reject):
        self.message, self.ack, self.reject = message, ack, reject


def batching_strategy(task, app, consumer, **kwargs):
    """Build the message handler of the booking task (called by Celery per consumer start)."""
    if BOOKINGS_QUEUE not in app.amqp.queues.consume_from:
        # Every worker builds a strategy for every task it knows; only the booking worker
        # receives this one.
        return default_strategy(task, app, consumer, **kwargs)
    if not isinstance(consumer.pool, ThreadPool):
        # A booking worker on another pool books one command per task, as before batching.
        log.info("%s is not batched outside the thread pool", task.name)
        return default_strategy(task, app, consumer, **kwargs)
    size = settings.BOOKING_BATCH_SIZE
    wait_s = settings.BOOKING_BATCH_WAIT_MS / 1000
    if consumer.initial_prefetch_count < (_IN_FLIGHT + 1) * size:
        # Prefetch is threads x multiplier and cannot grow once consuming (per-consumer QoS of
        # quorum queues): batches would never be larger than it.
        log.warning(
            "prefetch %s is under %s batches of %s: start the booking worker with "
            "--prefetch-multiplier (see infrastructure/Procfile)",
            consumer.initial_prefetch_count,
            _IN_FLIGHT + 1,
            size,
        )
    pool, timer = consumer.pool, consumer.timer
    errors = consumer.connection_errors
    buffer: list[_Delivery] = []
    lock = threading.Lock()  # the timer may fire in another thread when there is no event loop
    state = {"timer": None, "running": 0}

    def flush():
        while True:
            with lock:
                if state["timer"] is not None:
                    state["timer"].cancel()
                    state["timer"] = None
                if not buffer or state["running"] >= _IN_FLIGHT:
                    return  # a running batch flushes again when it ends
                batch = buffer[:size]
                del buffer[:size]
                state["running"] += 1
            pool.apply_async(_run_then, (batch, errors, done), callback=_ignore)

    def done():
        with lock:
            state["running"] -= 1
        flush()

    def handler(message, body, ack, reject, callbacks, **_):
        with lock:
            buffer.append(_Delivery(message, ack, reject))
            full = len(buffer) >= size
            if not full and state["timer"] is None:
                state["timer"] = timer.call_after(wait_s, flush)
        if full:
            flush()

    return handler


def _run_then(batch, errors, done) -> None:
    try:
        run_batch(batch, errors)
    finally:
        done()


def _ignore(_result):
    pass


def run_batch(batch: list[_Delivery], errors) -> None:
    """Book a batch; ack every message after the commit (runs in a pool thread)."""
    from registration_worker import batch as booking_batch  # the worker's Django is set up now
    from registration_worker.services import hold_of

    close_old_connections()  # what Celery's Django fixup does around each task
    try:
        commands = [_command_of(delivery) for delivery in batch]
        readable = [c for c in commands if c is not None]
        started = time.monotonic()
        try:
            run_through_outages(
                lambda: booking_batch.process_bookings(readable),
                holds=[hold_of(c) for c in readable],
            )
        except Exception as exc:
            close_old_connections()
            if is_transient(exc):
                log.warning(
                    "booking batch of %s requeued: the outage outlasted its retries", len(batch)
                )
                _requeue(batch, commands, errors)
            else:
                log.exception("booking batch of %s failed; booking one by one", len(batch))
                _one_by_one(batch, commands, errors)
            return
        for delivery, command in zip(batch, commands, strict=True):
            if command is None:
                delivery.reject(_celery_log, errors, False)  # to bookings.dlq: never readable
            else:
                delivery.ack(_celery_log, errors)
        elapsed = time.monotonic() - started
        metrics.BOOKING_BATCH_SIZE.observe(len(batch))
        metrics.BOOKING_BATCH_SECONDS.observe(elapsed)
        log.info("booked a batch of %s in %.1f ms", len(batch), elapsed * 1e3)
    finally:
        close_old_connections()


def _command_of(delivery: _Delivery) -> ProcessBookingCommand | None:
    """The command in a Celery (protocol 2) message; None if it cannot be read (dead-lettered)."""
    try:
        _args, kwargs, _embed = delivery.message.decode()
        return ProcessBookingCommand.from_dict(kwargs["command"])
    except Exception:
        log.exception("unreadable booking command %s", delivery.message.headers.get("id"))
        return None


def _one_by_one(batch: list[_Delivery], commands, errors) -> None:
    from registration_worker import batch as booking_batch
    from registration_worker.services import hold_of

    for delivery, command in zip(batch, commands, strict=True):
        if command is None:
            delivery.reject(_celery_log, errors, False)  # to bookings.dlq: never readable
            continue
        try:
            run_through_outages(
                lambda command=command: booking_batch.process_bookings([command]),
                holds=[hold_of(command)],
                budget_seconds=_ONE_BY_ONE_BUDGET_SECONDS,
            )
        except Exception as exc:
            with traced(command.trace_id):
                log.log(
                    logging.WARNING if is_transient(exc) else logging.ERROR,
                    "booking %s failed; requeued", command.booking_id, exc_info=True,
                )  # fmt: skip
            close_old_connections()
            delivery.reject(_celery_log, errors, True)  # the delivery limit stops a poison one
            continue
        delivery.ack(_celery_log, errors)


def _requeue(batch: list[_Delivery], commands, errors) -> None:
    """Hand a batch back to RabbitMQ: never acked, since none of it is known to be done."""
    for delivery, command in zip(batch, commands, strict=True):
        delivery.reject(_celery_log, errors, command is not None)  # unreadable: bookings.dlq
