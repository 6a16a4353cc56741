"""Failures that are our own outage, not an answer: the work must run again later.

A booking, an email or a charge that hit one of these did not happen (or its outcome is
unknown); the caller retries it with backoff or hands the message back to the broker. Only a
business outcome (confirmed, seat taken, hold expired, declined) ends the work.
"""

from __future__ import annotations

import contextlib
import logging

from django.db import InterfaceError, OperationalError, close_old_connections, connection
from kombu.exceptions import OperationalError as BrokerOperationalError

from shared.redis_clients import REDIS_OUTAGE_ERRORS

log = logging.getLogger(__name__)

TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (
    # Redis down, restarting (LOADING is a ConnectionError), too slow to answer, or a cluster
    # slot mid-failover.
    *REDIS_OUTAGE_ERRORS,
    # PostgreSQL restarting, a pooled connection it closed, the pool out of connections,
    # deadlocks and serialization failures: Django wraps them all in these two.
    OperationalError,
    InterfaceError,
    # RabbitMQ unreachable (kombu's wrapper) and raw socket errors from any client.
    BrokerOperationalError,
    ConnectionError,
    TimeoutError,
)


def is_transient(exc: BaseException) -> bool:
    return isinstance(exc, TRANSIENT_ERRORS)


def drop_dead_database_connections() -> None:
    """Give this thread's connection back and weed the pool's idle ones that PostgreSQL closed.

    Call it after a database error. psycopg's pool checks a connection when it hands it out,
    but waits longer after each dead one it finds (1 s, 2 s, 4 s ...): after a PostgreSQL
    restart, or its administrator ending our sessions, a pool of dead connections would make
    the next requests time out instead of reconnecting.
    """
    with contextlib.suppress(*TRANSIENT_ERRORS):
        connection.close()
    close_old_connections()
    pool = getattr(connection, "pool", None)
    if pool is not None and not pool.closed:  # Django opens it at the first connection
        try:
            pool.check()
        except Exception as exc:  # PostgreSQL may still be down: the next error tries again
            log.info("database pool check failed (%s)", type(exc).__name__)
