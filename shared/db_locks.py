"""PostgreSQL advisory locks: every key space named here, each lock taken with a timeout.

A key is ``(space, id)``: the space says which rule the lock serialises, so two features never
wait on each other by accident. Locks are transaction-level (``pg_advisory_xact_lock``):
PostgreSQL releases them at commit or rollback, so the caller must be inside the transaction
whose work they protect.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator
from enum import IntEnum

from django.conf import settings
from django.db import OperationalError, connection

from shared.exceptions import DependencyUnavailable

LOCK_NOT_AVAILABLE = "55P03"  # SQLSTATE of a lock wait cut off by lock_timeout


class LockSpace(IntEnum):
    # Per event: count its live general-admission tickets and insert new ones as one step
    # (no unique index can refuse an oversold general admission).
    GENERAL_ADMISSION = 7001
    # Per (booking, kind of email): one sender at a time; held by the session, across the
    # claim and the mark, which commit on their own (notifications.emails).
    EMAIL_SEND = 7002


def lock_for_transaction(space: LockSpace, ids: Iterable[int]) -> None:
    """Take the advisory lock ``(space, id)`` of every id, in ascending order (two callers
    locking overlapping ids wait for each other, never deadlock), until the transaction ends.

    Waits at most ``ADVISORY_LOCK_TIMEOUT_MS`` per lock, then raises DependencyUnavailable
    (503: try again); the transaction is then aborted and must be rolled back.
    """
    with connection.cursor() as cursor:
        # For these lock waits only: the row locks and inserts after them keep the default.
        cursor.execute(
            "SELECT current_setting('lock_timeout'), set_config('lock_timeout', %s, true)",
            [f"{settings.ADVISORY_LOCK_TIMEOUT_MS}ms"],
        )
        ((previous, _),) = cursor.fetchall()
        try:
            for key in sorted(set(ids)):
                cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [int(space), key])
        except OperationalError as exc:
            if getattr(exc.__cause__, "sqlstate", None) != LOCK_NOT_AVAILABLE:
                raise
            raise DependencyUnavailable(
                "The database is busy with this event; try again.", code="lock_timeout"
            ) from exc
        cursor.execute("SELECT set_config('lock_timeout', %s, true)", [previous])


@contextlib.contextmanager
def session_lock(space: LockSpace, key: str, *, release_errors=()) -> Iterator[None]:
    """Hold the session-level advisory lock ``(space, hashtext(key))`` of this connection
    while the block runs (it spans several transactions). A connection that dies releases it
    by itself: ``release_errors`` raised while unlocking are then ignored."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_lock(%s, hashtext(%s))", [int(space), key])
    try:
        yield
    finally:
        with contextlib.suppress(*release_errors), connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(%s, hashtext(%s))", [int(space), key])
