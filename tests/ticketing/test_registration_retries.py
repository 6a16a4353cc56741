"""An Idempotency-Key retry after our own outage succeeds; a failure the outage caused is never
replayed to the buyer (issue 17)."""

import threading
import time
import uuid
from datetime import timedelta

import httpx
import psycopg
import pytest
from django.db import connection
from django.utils import timezone

from registration_worker.models import Booking, Ticket
from tests.conftest import (
    API_SERVER_APP_NAME,
    browser_headers,
    create_seated_event,
    seat_ids,
    session_cookies,
    test_database_url,
)
from tests.registration_worker.test_races import (
    _wait_for_worker_blocked_on_lock,
    assert_no_seat_sold_twice,
)
from ticketing.services.holds import create_hold
from ticketing.services.registrations import register_hold, request_fingerprint

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_simple_registration_cut_off_by_postgresql_succeeds_on_retry(
    api_server, make_user, organizer
):
    event = create_seated_event(organizer)
    buyer = make_user()
    with httpx.Client(
        base_url=api_server, cookies=session_cookies(buyer), headers=browser_headers(), timeout=30
    ) as client:
        hold_id = client.post(
            f"/api/v1/events/{event.pk}/holds/", json={"seats": seat_ids(event)[:2]}
        ).json()["id"]
        # given the server's pools full of idle connections, as after a busy minute
        _busy_minute(api_server)
        # given the ticket table locked, so the registration waits inside its transaction
        with psycopg.connect(test_database_url()) as locker:
            locker.execute("LOCK TABLE registration_worker_ticket IN SHARE MODE")
            with httpx.Client(
                base_url=api_server, cookies=session_cookies(buyer), headers=browser_headers()
            ) as first:
                answers = []
                request = threading.Thread(
                    target=lambda: answers.append(
                        first.post(
                            "/api/v1/registrations/",
                            json={"hold": hold_id},
                            headers={"Idempotency-Key": "cut-off"},
                            timeout=30,
                        )
                    )
                )
                request.start()
                _wait_for_worker_blocked_on_lock()
                # when PostgreSQL drops the web process's connection mid-registration (only
                # that one: the server's other pooled connections, dead, would stall the next
                # test's first requests in psycopg's check backoff, 1 s, 2 s, 4 s ...)
                with connection.cursor() as cursor:
                    cursor.execute(
                        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                        "WHERE application_name = %s AND wait_event_type = 'Lock'",
                        [API_SERVER_APP_NAME],
                    )
                    assert cursor.fetchone()[0] >= 1
                locker.rollback()
                request.join(timeout=30)
        # then the buyer was told it failed (not that it succeeded) ...
        assert answers and answers[0].status_code >= 500
        booking = Booking.objects.get(buyer=buyer, idempotency_key="cut-off")
        assert booking.status == "pending"
        # ... and the same request retried a little later books the seats
        Booking.objects.filter(pk=booking.pk).update(
            created_at=timezone.now() - timedelta(seconds=10)
        )
        retry = _retry_like_a_client(
            lambda: client.post(
                "/api/v1/registrations/",
                json={"hold": hold_id},
                headers={"Idempotency-Key": "cut-off"},
            )
        )
    assert retry.status_code == 201, retry.content
    assert retry.json()["status"] == "confirmed"
    assert Booking.objects.filter(buyer=buyer).count() == 1
    assert Ticket.objects.filter(booking__buyer=buyer).count() == 2
    assert_no_seat_sold_twice(event)


def _busy_minute(api_server: str) -> None:
    def browse():
        with httpx.Client(base_url=api_server, timeout=30) as client:
            for _ in range(5):
                assert client.get("/api/v1/events/").status_code == 200

    threads = [threading.Thread(target=browse) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)


def _retry_like_a_client(send, attempts: int = 4) -> httpx.Response:
    """Send again after each 503, waiting its Retry-After (the API's promise: a retry with the
    same Idempotency-Key after our outage succeeds)."""
    for _ in range(attempts - 1):
        response = send()
        if response.status_code != 503:
            return response
        time.sleep(int(response.headers["Retry-After"]))
    return send()


def test_a_failure_our_broker_outage_caused_is_not_replayed(make_user, organizer):
    # given a registration that failed "broker_unavailable" (as before the outbox: the broker
    # was down) while the buyer kept the hold
    event = create_seated_event(organizer)
    buyer = make_user()
    hold = create_hold(user_id=buyer.pk, event_id=event.pk, seat_ids=seat_ids(event)[:2])
    key = uuid.uuid4().hex
    failed = Booking.objects.create(
        buyer=buyer, event=event, source="queued", idempotency_key=key,
        request_fingerprint=request_fingerprint(hold.id), hold_id=hold.id, status="failed",
        failure_reason="broker_unavailable",
    )  # fmt: skip
    # when the buyer retries the same request with the same key
    registration = register_hold(user_id=buyer.pk, hold_id=hold.id, idempotency_key=key)
    # then it is registered afresh, not answered with our old failure
    assert not registration.replayed
    assert registration.booking.pk != failed.pk
    assert registration.booking.status == "confirmed"
    assert Booking.objects.get(buyer=buyer, idempotency_key=key).pk == registration.booking.pk
