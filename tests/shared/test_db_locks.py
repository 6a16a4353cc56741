"""Advisory locks: named key spaces, a timeout instead of an endless wait."""

import psycopg
import pytest
from django.db import connection, transaction

from shared.db_locks import LockSpace, lock_for_transaction
from shared.exceptions import DependencyUnavailable
from tests.conftest import test_database_url

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def other_session():
    with psycopg.connect(test_database_url().replace("postgres://", "postgresql://")) as conn:
        yield conn


def test_a_lock_held_by_another_transaction_times_out_as_503(settings, other_session):
    settings.ADVISORY_LOCK_TIMEOUT_MS = 100
    other_session.execute(
        "SELECT pg_advisory_xact_lock(%s, %s)", [int(LockSpace.GENERAL_ADMISSION), 42]
    )

    with pytest.raises(DependencyUnavailable) as refused, transaction.atomic():
        lock_for_transaction(LockSpace.GENERAL_ADMISSION, [42])

    assert refused.value.http_status == 503
    other_session.rollback()  # released: now it is free
    with transaction.atomic():
        lock_for_transaction(LockSpace.GENERAL_ADMISSION, [42, 7])


def test_the_timeout_applies_to_the_lock_waits_only():
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SHOW lock_timeout")
        before = cursor.fetchone()[0]
        lock_for_transaction(LockSpace.GENERAL_ADMISSION, [1])
        cursor.execute("SHOW lock_timeout")
        assert cursor.fetchone()[0] == before
