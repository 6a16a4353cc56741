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
Here a failed batch is retried command by command, and a command that still fails is
requeued: the quorum queue's delivery limit then dead-letters it to ``bookings.dlq``.

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

from shared.contracts import ProcessBookingCommand
from shared.redis_clients import REDIS_OUTAGE_ERRORS

log = logging.getLogger(__name__)

# Batches booked at the same time. One runs Python while the other waits on PostgreSQL, Redis
# or RabbitMQ; more would only share the GIL, and commands arriving meanwhile gather into the
# next batch instead of many small ones.
_IN_FLIGHT = 2
_celery_log = get_logger(__name__)  # what ack/reject log their errors to
# How long a batch waits out an unreachable seat-lock Redis before it gives up (a cluster
# failover takes cluster-node-timeout plus an election: seconds), and its pace meanwhile.
REDIS_OUTAGE_WAIT_S = 20
REDIS_OUTAGE_RETRY_S = 0.25


class _Delivery:
    """One delivered message with the consumer's ack and reject (safe from any thread)."""

    __slots__ = ("ack", "message", "reject")

    def __init__(self, message, ack, reject):
        self.message, self.ack, self.reject = message, ack, reject


def batching_strategy(task, app, consumer, **kwargs):
    """Build the message handler of the booking task (called by Celery per consumer start)."""
    if not isinstance(consumer.pool, ThreadPool):
        # Every worker builds a strategy for every task it knows, the notifier's process pool
        # too; such a worker books one command per task, exactly as before batching.
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

    close_old_connections()  # what Celery's Django fixup does around each task
    try:
        commands = [_command_of(delivery) for delivery in batch]
        started = time.monotonic()
        try:
            _book_waiting_out_redis(booking_batch, [c for c in commands if c is not None])
        except Exception:
            log.exception("booking batch of %s failed; booking one by one", len(batch))
            close_old_connections()
            _one_by_one(batch, commands, errors)
            return
        for delivery, command in zip(batch, commands, strict=True):
            if command is None:
                delivery.reject(_celery_log, errors, False)  # to bookings.dlq: never readable
            else:
                delivery.ack(_celery_log, errors)
        log.info("booked a batch of %s in %.1f ms", len(batch), (time.monotonic() - started) * 1e3)
    finally:
        close_old_connections()


def _book_waiting_out_redis(booking_batch, commands: list[ProcessBookingCommand]) -> None:
    """Book the batch; while the seat-lock Redis is unreachable (a Redis Cluster failover
    takes a few seconds) wait and try again, up to ``REDIS_OUTAGE_WAIT_S``.

    Requeueing at once would spend the quorum queue's delivery limit within milliseconds and
    dead-letter accepted registrations; the messages stay unacknowledged meanwhile, and a
    batch may run again (process_bookings is idempotent).
    """
    deadline = time.monotonic() + REDIS_OUTAGE_WAIT_S
    while True:
        try:
            booking_batch.process_bookings(commands)
            return
        except REDIS_OUTAGE_ERRORS as exc:
            if time.monotonic() > deadline:
                raise
            log.warning("seat-lock Redis unavailable (%s); batch waits", exc)
            close_old_connections()
            time.sleep(REDIS_OUTAGE_RETRY_S)


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

    for delivery, command in zip(batch, commands, strict=True):
        if command is None:
            delivery.reject(_celery_log, errors, False)  # to bookings.dlq: never readable
            continue
        try:
            booking_batch.process_bookings([command])
        except Exception:
            log.exception("booking %s failed; requeued", command.booking_id)
            close_old_connections()
            delivery.reject(_celery_log, errors, True)  # the delivery limit stops a poison one
            continue
        delivery.ack(_celery_log, errors)
