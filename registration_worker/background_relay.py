"""Relaying outbox rows from a web process without making the request wait for the broker.

A queued registration commits its pending booking and its ProcessBookingCommand as an outbox
row, and answers 202: PostgreSQL holds the command durably, so a RabbitMQ outage costs the buyer
nothing but time. Right after the commit the row's id goes to this process's relay thread, which
publishes every row waiting at that moment in one round (one connection, the confirms awaited
together: concurrent registrations share the broker's confirm latency). Whatever the thread
cannot send (broker down, process killed) the periodic ``relay_outbox`` sweep sends later;
publishing twice is harmless because the worker is idempotent by booking id.
"""

from __future__ import annotations

import logging
import queue
import threading

from django.db import close_old_connections, transaction

from shared.per_process import PerProcess
from shared.transient import drop_dead_database_connections

log = logging.getLogger(__name__)

MAX_ROUND = 200  # rows per publishing round


class _RelayThread:
    MAX_PENDING = 50_000

    def __init__(self):
        self.pending: queue.Queue[int] = queue.Queue(maxsize=self.MAX_PENDING)
        threading.Thread(target=self._run, name="outbox-relay", daemon=True).start()

    def send(self, message_id: int) -> None:
        try:
            self.pending.put_nowait(message_id)
        except queue.Full:
            log.warning("outbox relay queue full; row %s waits for the sweep", message_id)

    def _run(self) -> None:
        from registration_worker.outbox import relay_messages

        while True:
            ids = [self.pending.get()]
            while len(ids) < MAX_ROUND:
                try:
                    ids.append(self.pending.get_nowait())
                except queue.Empty:
                    break
            try:
                relay_messages(ids)
            except Exception as exc:  # the sweep sends them; the thread must live on
                log.warning("outbox relay of %d rows failed (%s); the sweep retries", len(ids), exc)
                drop_dead_database_connections()
            finally:
                close_old_connections()


_relay = PerProcess(_RelayThread)


def relay_in_background(message_id: int) -> None:
    """Hand the row to this process's relay thread once the current transaction commits."""
    transaction.on_commit(lambda: _relay.get().send(message_id))
