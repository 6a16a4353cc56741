"""Structured logs with a trace id (shared/logs.py, ticketing/tracing.py): the X-Request-ID of
a registration names every JSON log line written about that booking by the web server, the
booking worker and the notifier, so one grep follows it across processes."""

import re
import uuid

import httpx
import pytest
from django.test import Client

from registration_worker.models import Booking
from tests.conftest import browser_headers, create_seated_event, seat_ids, session_cookies
from tests.trace_logs import Trail

GENERATED = re.compile(r"[0-9a-f]{32}")


def test_a_sane_x_request_id_is_answered_back():
    response = Client().get("/healthz", HTTP_X_REQUEST_ID="support-case-4711.retry:2")
    assert response["X-Request-ID"] == "support-case-4711.retry:2"


def test_a_request_without_x_request_id_gets_one():
    first, second = Client().get("/healthz"), Client().get("/healthz")
    assert GENERATED.fullmatch(first["X-Request-ID"])
    assert first["X-Request-ID"] != second["X-Request-ID"]


@pytest.mark.parametrize(
    "bad",
    [
        "x" * 65,  # too long for a log line's key
        "short",  # too short to be unique
        "abc def ghi",  # spaces
        '"},{"level":"critical',  # an attempt to forge JSON in log lines
        "trace\u00e9-123456",  # not ASCII
        "-leading-dash-123",
    ],
)
def test_a_bad_x_request_id_is_replaced_not_echoed(bad):
    response = Client().get("/healthz", HTTP_X_REQUEST_ID=bad)
    assert response["X-Request-ID"] != bad
    assert GENERATED.fullmatch(response["X-Request-ID"])


@pytest.mark.django_db(transaction=True)
def test_one_grep_follows_a_queued_booking_from_the_request_to_its_email(
    api_server, booking_worker, notifier_worker, artifacts_dir, make_user, organizer
):
    # given a queued event, a buyer holding two seats, and the log files of the web server,
    # the booking worker and the notifier
    event = create_seated_event(organizer, registration_mode="queued")
    buyer = make_user(email="traced@example.com")
    api = httpx.Client(
        base_url=api_server, cookies=session_cookies(buyer), headers=browser_headers(), timeout=30
    )
    held = api.post(f"/api/v1/events/{event.pk}/holds/", json={"seats": seat_ids(event)[:2]})
    assert held.status_code == 201, held.text
    trace_id = f"trace-{uuid.uuid4().hex}"
    trail = Trail(
        trace_id,
        web=artifacts_dir / "api-server.log",
        worker=booking_worker.log_path,
        notifier=notifier_worker.log_path,
    )

    # when the buyer registers with an X-Request-ID
    response = api.post(
        "/api/v1/registrations/",
        json={"hold": held.json()["id"]},
        headers={"Idempotency-Key": uuid.uuid4().hex, "X-Request-ID": trace_id},
    )

    # then the answer carries the trace id
    assert response.status_code == 202, response.text
    assert response.headers["X-Request-ID"] == trace_id
    booking = Booking.objects.get(tracking_id=response.json()["tracking_id"])
    # and the email is sent, and every process logged the booking under that trace id
    sent = trail.wait_for("notifier", "email sent")
    assert sent["booking_id"] == str(booking.pk)
    assert sent["kind"] == "booking_confirmed"
    accepted = trail.wait_for("web", "registration accepted")
    assert accepted["booking_id"] == str(booking.pk)
    assert accepted["flow"] == "queued"
    confirmed = trail.wait_for("worker", "booking confirmed")
    assert confirmed["booking_id"] == str(booking.pk)
    assert confirmed["reference"] == Booking.objects.get(pk=booking.pk).reference
    # and every line the grep finds is a JSON record with that trace id
    for records in trail.grep().values():
        assert {r["trace_id"] for r in records} == {trace_id}
