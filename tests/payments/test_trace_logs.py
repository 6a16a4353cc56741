"""One grep follows a paid booking (shared/logs.py): the X-Request-ID of the registration names
the JSON log lines of the web server, the booking worker, the payment worker and the notifier,
for a card the bank approves and one it declines."""

import uuid

import httpx
import pytest

from registration_worker.models import Booking
from tests.conftest import browser_headers, seat_ids, session_cookies
from tests.payments.conftest import DECLINED_CARD, create_paid_event, wait_for_booking
from tests.trace_logs import Trail

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.mark.parametrize(
    ("card", "status", "payment_event", "email_kind"),
    [
        ("4242424242424242", "confirmed", "payment charged", "booking_confirmed"),
        (DECLINED_CARD, "failed", "payment failed", "payment_declined"),
    ],
)
def test_one_grep_follows_a_paid_booking_through_every_process(
    api_server,
    booking_worker,
    payment_worker,
    notifier_worker,
    bank,
    artifacts_dir,
    make_user,
    organizer,
    card,
    status,
    payment_event,
    email_kind,
):
    # given a queued paid event and a buyer holding a seat, with the bank's card token
    event = create_paid_event(organizer, registration_mode="queued")
    buyer = make_user(email=f"payer-{uuid.uuid4().hex[:8]}@example.com")
    api = httpx.Client(
        base_url=api_server, cookies=session_cookies(buyer), headers=browser_headers(), timeout=30
    )
    held = api.post(f"/api/v1/events/{event.pk}/holds/", json={"seats": seat_ids(event)[:1]})
    assert held.status_code == 201, held.text
    trace_id = uuid.uuid4().hex
    trail = Trail(
        trace_id,
        web=artifacts_dir / "api-server.log",
        worker=booking_worker.log_path,
        payments=payment_worker.log_path,
        notifier=notifier_worker.log_path,
    )

    # when the buyer registers with an X-Request-ID and the bank answers
    response = api.post(
        "/api/v1/registrations/",
        json={"hold": held.json()["id"], "payment_token": bank.token(card)},
        headers={"Idempotency-Key": uuid.uuid4().hex, "X-Request-ID": trace_id},
    )
    assert response.status_code == 202, response.text
    assert response.headers["X-Request-ID"] == trace_id
    booking = wait_for_booking(Booking.objects.get(tracking_id=response.json()["tracking_id"]).pk)
    assert booking.status == status

    # then each process logged its part of the booking under the request's trace id
    booking_id = str(booking.pk)
    assert trail.wait_for("notifier", "email sent")["kind"] == email_kind
    assert trail.wait_for("web", "registration accepted")["paid"] is True
    assert trail.wait_for("worker", "booking awaits payment")["booking_id"] == booking_id
    assert trail.wait_for("payments", payment_event)["booking_id"] == booking_id
    outcome = trail.wait_for("payments", f"booking {status}")
    assert outcome["booking_id"] == booking_id
    if status == "failed":
        assert outcome["reason"] == "payment_declined"
    for records in trail.grep().values():
        assert {r["trace_id"] for r in records} == {trace_id}
