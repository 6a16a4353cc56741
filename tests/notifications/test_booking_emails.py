"""Booking emails through real SMTP: the running sink (port 1025) and, for outages, our own."""

import email
import email.policy
import io
import smtplib
import threading
from unittest import mock

import pytest
from aiosmtpd.controller import Controller
from celery.exceptions import Retry
from pypdf import PdfReader

from infrastructure.smtp_sink import MaildirHandler
from notifications import tasks
from notifications.emails import Outcome, send_booking_confirmation
from notifications.models import SentNotification
from notifications.tasks import handle_booking_event
from shared.enums import BookingStatus, TicketStatus
from shared.messaging import (
    NOTIFY_BOOKING_TASK,
    TOPIC_BOOKING_CANCELLED,
    TOPIC_BOOKING_CONFIRMED,
    TOPIC_BOOKING_FAILED,
)
from tests.conftest import free_port


def messages_for(maildir, booking) -> list[email.message.EmailMessage]:
    """Messages in ``maildir`` about ``booking`` (other tests may share the folder)."""
    found = []
    for path in sorted(maildir.glob("*.eml")):
        message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        if message["X-Booking-Reference"] == booking.reference:
            found.append(message)
    return found


def payload_for(booking, status="confirmed", reason="") -> dict:
    return {
        "booking_id": str(booking.pk),
        "event_id": booking.event_id,
        "buyer_id": booking.buyer_id,
        "status": status,
        "reason": reason,
        "seat_ids": list(booking.tickets.values_list("seat_id", flat=True)),
        "tracking_id": str(booking.tracking_id),
    }


@pytest.fixture
def seated_booking(make_user, make_event, make_booking):
    event = make_event(make_user(), title="Jazz im Hof")
    seats = list(event.seat_map.seats.order_by("id")[:2])
    return make_booking(make_user(first_name="Grace", last_name="Hopper"), event, seats=seats)


def test_task_name_is_the_one_the_outbox_relay_calls():
    assert handle_booking_event.name == NOTIFY_BOOKING_TASK


def test_confirmed_booking_sends_one_multipart_email_with_the_pdf(seated_booking, mail_sink_dir):
    result = handle_booking_event(
        topic=TOPIC_BOOKING_CONFIRMED, payload=payload_for(seated_booking), message_id=1
    )

    assert result == Outcome.SENT
    [message] = messages_for(mail_sink_dir, seated_booking)
    assert message["To"] == seated_booking.buyer.email
    assert "Jazz im Hof" in message["Subject"]
    assert message.get_content_type() == "multipart/mixed"
    text = message.get_body(preferencelist=("plain",)).get_content()
    html = message.get_body(preferencelist=("html",)).get_content()
    assert seated_booking.reference in text
    assert seated_booking.reference in html
    [attachment] = list(message.iter_attachments())
    assert attachment.get_content_type() == "application/pdf"
    assert attachment.get_filename() == f"tickets-{seated_booking.reference}.pdf"
    pdf = PdfReader(io.BytesIO(attachment.get_content()))
    assert len(pdf.pages) == 2
    assert "Jazz im Hof" in pdf.pages[0].extract_text()


def test_a_redelivered_event_does_not_send_twice(seated_booking, mail_sink_dir):
    payload = payload_for(seated_booking)

    first = handle_booking_event(topic=TOPIC_BOOKING_CONFIRMED, payload=payload, message_id=2)
    again = handle_booking_event(topic=TOPIC_BOOKING_CONFIRMED, payload=payload, message_id=2)

    assert (first, again) == (Outcome.SENT, Outcome.ALREADY_SENT)
    assert len(messages_for(mail_sink_dir, seated_booking)) == 1
    assert SentNotification.objects.filter(booking=seated_booking).count() == 1


def test_cancelled_booking_gets_a_cancellation_email(
    make_user, make_event, make_booking, mail_sink_dir
):
    event = make_event(make_user(), seated=False)
    booking = make_booking(
        make_user(),
        event,
        count=2,
        status=BookingStatus.CANCELLED,
        ticket_status=TicketStatus.CANCELLED,
    )

    result = handle_booking_event(
        topic=TOPIC_BOOKING_CANCELLED, payload=payload_for(booking, "cancelled"), message_id=3
    )

    assert result == Outcome.SENT
    [message] = messages_for(mail_sink_dir, booking)
    assert "cancelled" in message["Subject"]
    assert list(message.iter_attachments()) == []
    assert SentNotification.objects.get(booking=booking).kind == "booking_cancelled"


def test_the_task_exits_cleanly_when_there_is_nothing_to_send(
    make_user, make_event, make_booking, mail_sink_dir
):
    event = make_event(make_user(), seated=False)
    failed = make_booking(make_user(), event, count=0, status=BookingStatus.FAILED)
    gone = payload_for(failed) | {"booking_id": "00000000-0000-4000-8000-000000000000"}

    assert handle_booking_event(topic=TOPIC_BOOKING_CONFIRMED, payload=gone) == "booking_gone"
    # A confirmation for a booking that is not (or no longer) confirmed is not sent.
    assert (
        handle_booking_event(topic=TOPIC_BOOKING_CONFIRMED, payload=payload_for(failed))
        == "not_applicable"
    )
    # Failed registrations reach the buyer over the WebSocket; no email.
    assert handle_booking_event(topic=TOPIC_BOOKING_FAILED, payload=payload_for(failed)) == (
        "ignored"
    )
    assert messages_for(mail_sink_dir, failed) == []


def test_smtp_down_then_back_delivers_exactly_once(seated_booking, real_smtp, tmp_path):
    settings = real_smtp
    port = free_port()
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", port, 2
    maildir = tmp_path / "mail"
    payload = payload_for(seated_booking)

    # Given the SMTP server is down, the task fails with a transient error and asks Celery
    # to retry it with backoff, keeping no record of a send.
    with (
        mock.patch.object(handle_booking_event, "retry", side_effect=Retry("again")) as retry,
        pytest.raises(Retry),
    ):
        handle_booking_event(topic=TOPIC_BOOKING_CONFIRMED, payload=payload, message_id=4)
    assert isinstance(retry.call_args.kwargs["exc"], ConnectionRefusedError)
    assert 0 <= retry.call_args.kwargs["countdown"] <= tasks.RETRY_BACKOFF_SECONDS
    assert not SentNotification.objects.filter(booking=seated_booking).exists()

    # When it is back, the retry sends; a further redelivery does not send again.
    controller = Controller(MaildirHandler(maildir), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        assert handle_booking_event(topic=TOPIC_BOOKING_CONFIRMED, payload=payload) == "sent"
        assert handle_booking_event(topic=TOPIC_BOOKING_CONFIRMED, payload=payload) == (
            "already_sent"
        )
    finally:
        controller.stop()
    assert len(messages_for(maildir, seated_booking)) == 1


def test_the_retry_policy_backs_off_exponentially_with_jitter_and_a_limit():
    assert handle_booking_event.max_retries == tasks.MAX_RETRIES
    assert handle_booking_event.retry_backoff == tasks.RETRY_BACKOFF_SECONDS
    assert handle_booking_event.retry_backoff_max == tasks.RETRY_BACKOFF_MAX_SECONDS
    assert handle_booking_event.retry_jitter is True
    retried = tuple(handle_booking_event.autoretry_for)
    for transient in (ConnectionRefusedError, TimeoutError, smtplib.SMTPServerDisconnected):
        assert issubclass(transient, retried)


@pytest.mark.django_db(transaction=True)
def test_concurrent_duplicates_send_once(make_user, make_event, make_booking, mail_sink_dir):
    event = make_event(make_user(), seated=False)
    booking = make_booking(make_user(), event, count=1)
    outcomes, barrier = [], threading.Barrier(4)

    def deliver():
        from django.db import connection

        try:
            barrier.wait()
            outcomes.append(send_booking_confirmation(booking.pk))
        finally:
            connection.close()

    threads = [threading.Thread(target=deliver) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert sorted(outcomes) == sorted([Outcome.SENT] + [Outcome.ALREADY_SENT] * 3)
    assert len(messages_for(mail_sink_dir, booking)) == 1
