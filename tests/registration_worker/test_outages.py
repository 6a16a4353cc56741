"""The booking worker never acks a command it could not run (issue 17).

Real faults: the worker's Redis is a redis-server of this test's own, SIGKILLed and started
again (append-only file, so the holds survive as they would a restart); PostgreSQL terminates
the worker's connections in the middle of a batch. Every accepted registration must end
confirmed, none acked undone, none failed because of our outage.
"""

import os
import signal
import subprocess
import time
import uuid

import psycopg
import pytest
import redis
from django.db import connection

from registration_worker.models import Booking, Ticket
from shared import locks, realtime
from tests.conftest import (
    WorkerProcess,
    create_seated_event,
    free_port,
    seat_ids,
    test_database_url,
    worker_app_name,
)
from tests.registration_worker.test_batching import _buyers, _wait_until_final
from tests.registration_worker.test_races import (
    _wait_for_worker_blocked_on_lock,
    assert_no_seat_sold_twice,
)
from ticketing.services.holds import create_hold
from ticketing.services.registrations import register_hold

pytestmark = pytest.mark.django_db(transaction=True)


class RedisServer:
    """A redis-server on a free port whose data outlives a SIGKILL (fsync'd append-only file)."""

    def __init__(self, workdir):
        self.port, self.workdir = free_port(), workdir
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.proc = None

    def start(self):
        self.proc = subprocess.Popen(
            [
                *("redis-server", "--port", str(self.port), "--bind", "127.0.0.1"),
                *("--dir", str(self.workdir), "--appendonly", "yes", "--appendfsync", "always"),
                *("--save", "", "--daemonize", "no"),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        client = redis.Redis.from_url(self.url)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                if client.ping():
                    return self
            except redis.ConnectionError:
                time.sleep(0.05)
        raise RuntimeError("private redis-server did not start")

    def kill(self):
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait()


@pytest.fixture(scope="module")
def private_redis(tmp_path_factory):
    server = RedisServer(tmp_path_factory.mktemp("redis")).start()
    yield server
    if server.proc.poll() is None:
        server.kill()


def _queue_registrations(event, count):
    """``count`` buyers register two seats each; returns their bookings (pending, published)."""
    seats = seat_ids(event)
    bookings = []
    for i, buyer in enumerate(_buyers(count)):
        hold = create_hold(user_id=buyer.pk, event_id=event.pk, seat_ids=seats[2 * i : 2 * i + 2])
        bookings.append(
            register_hold(
                user_id=buyer.pk, hold_id=hold.id, idempotency_key=uuid.uuid4().hex
            ).booking
        )
    return bookings


def _log_since_start(worker) -> str:
    return worker.log_path.read_bytes()[worker.log_offset :].decode(errors="replace")


def test_redis_down_while_the_worker_drains_a_backlog_acks_nothing_undone(
    booking_worker, private_redis, organizer, artifacts_dir, monkeypatch
):
    # given a booking worker whose Redis is the private server (this process uses it too)
    booking_worker.stop()  # the session's worker shares the queue; it must not take these
    monkeypatch.setattr(locks, "_default", locks.SeatLocks(redis.Redis.from_url(private_redis.url)))
    monkeypatch.setattr(realtime, "_log", None)
    monkeypatch.setenv("REDIS_URL", private_redis.url)
    monkeypatch.setenv("BOOKING_RETRY_MAX_WAIT_SECONDS", "1")
    worker = WorkerProcess(
        "bookings",
        artifacts_dir / "worker-bookings-redis-outage.log",
        concurrency=8,
        pool="threads",
        extra_args=("--prefetch-multiplier", "24"),
    ).start()
    try:
        event = create_seated_event(organizer, rows=2, seats_per_row=40, registration_mode="queued")
        # and the worker frozen while 40 registrations are accepted and published
        os.killpg(worker.proc.pid, signal.SIGSTOP)
        bookings = _queue_registrations(event, 40)
        # when Redis dies and the worker wakes up to drain the backlog
        private_redis.kill()
        os.killpg(worker.proc.pid, signal.SIGCONT)
        time.sleep(5)
        # then nothing was acked as done or failed meanwhile: every booking still waits
        statuses = set(Booking.objects.filter(event=event).values_list("status", flat=True))
        assert statuses == {"pending"}
        assert "hit ConnectionError" in _log_since_start(worker)
        # and once Redis is back every registration is confirmed, with its leases intact
        private_redis.start()
        _wait_until_final(event, timeout=60)
        assert set(Booking.objects.filter(event=event).values_list("status", flat=True)) == {
            "confirmed"
        }
        assert Ticket.objects.filter(event=event).count() == 2 * len(bookings)
        assert_no_seat_sold_twice(event)
    finally:
        worker.stop()
        booking_worker.start()


def _terminate_worker_connections(worker) -> int:
    """PostgreSQL ends every connection of the booking worker (idle pooled ones too)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE application_name = %s",
            [worker_app_name(worker.queues)],
        )
        return cursor.fetchone()[0]


def test_postgresql_connections_terminated_mid_batch_lose_no_command(booking_worker, organizer):
    # given the ticket table locked (from another connection), so the worker's batches wait
    # inside their transaction
    event = create_seated_event(organizer, rows=2, seats_per_row=40, registration_mode="queued")
    with psycopg.connect(test_database_url()) as locker:
        locker.execute("LOCK TABLE registration_worker_ticket IN SHARE MODE")
        # and 40 registrations accepted meanwhile
        bookings = _queue_registrations(event, 40)
        _wait_for_worker_blocked_on_lock()
        log_offset = booking_worker.log_path.stat().st_size
        # when PostgreSQL terminates the worker's connections mid-batch (and its idle pooled
        # ones, which go stale)
        assert _terminate_worker_connections(booking_worker) > 0
        locker.rollback()
    # then every command is retried on fresh connections and confirmed, none failed or lost
    _wait_until_final(event, timeout=60)
    assert set(Booking.objects.filter(event=event).values_list("status", flat=True)) == {
        "confirmed"
    }
    assert Ticket.objects.filter(event=event).count() == 2 * len(bookings)
    assert_no_seat_sold_twice(event)
    log = booking_worker.log_path.read_bytes()[log_offset:].decode(errors="replace")
    assert "hit OperationalError" in log or "hit InterfaceError" in log


@pytest.mark.parametrize("sale_goes_on", [True, False])
def test_holds_redis_lost_while_their_registrations_waited_are_still_booked(
    booking_worker, organizer, make_user, sale_goes_on
):
    # given 10 accepted registrations waiting for a frozen worker
    event = create_seated_event(organizer, rows=2, seats_per_row=20, registration_mode="queued")
    os.killpg(booking_worker.proc.pid, signal.SIGSTOP)
    try:
        bookings = _queue_registrations(event, 10)
        # when the seat-lock database is flushed (every hold gone, the sold set too) ...
        locks.seat_locks().redis.flushdb()
        if sale_goes_on:
            # ... and a new buyer's hold rebuilds the sold set and takes a seat of a lost hold
            taken_over = seat_ids(event)[0]
            create_hold(user_id=make_user().pk, event_id=event.pk, seat_ids=[taken_over])
    finally:
        os.killpg(booking_worker.proc.pid, signal.SIGCONT)
    # then every registration whose seats nobody else took is booked (the worker rebuilds the
    # sold set when nobody did); the one whose seat was taken fails
    _wait_until_final(event, timeout=60)
    statuses = dict(Booking.objects.filter(event=event).values_list("pk", "status"))
    if sale_goes_on:
        assert statuses.pop(bookings[0].pk) == "failed"
    assert set(statuses.values()) == {"confirmed"}
    tickets = Ticket.objects.filter(event=event).exclude(status="cancelled")
    assert tickets.count() == 2 * len(statuses)
    assert_no_seat_sold_twice(event)
