"""Failures that are our own outage, not an answer: the work must run again later.

A booking, an email or a charge that hit one of these did not happen (or its outcome is
unknown); the caller retries it with backoff or hands the message back to the broker. Only a
business outcome (confirmed, seat taken, hold expired, declined) ends the work.
"""

from __future__ import annotations

from django.db import InterfaceError, OperationalError
from kombu.exceptions import OperationalError as BrokerOperationalError

from shared.redis_clients import REDIS_OUTAGE_ERRORS

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
