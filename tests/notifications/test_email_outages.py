"""A confirmation email is sent once even when PostgreSQL drops the sender's connection at the
worst moment: after the SMTP server accepted the message, before the send was recorded."""

import psycopg
import pytest
from aiosmtpd.controller import Controller
from django.db import connection

from infrastructure.smtp_sink import MaildirHandler
from notifications.emails import Outcome, send_booking_confirmation
from notifications.models import SentNotification
from tests.conftest import free_port, test_database_url
from tests.notifications.test_booking_emails import messages_for

pytestmark = pytest.mark.django_db(transaction=True)


class TerminatingHandler(MaildirHandler):
    """Stores the message, then has PostgreSQL terminate the sender's connection before the
    SMTP server answers 250 (as a database restart at that moment would)."""

    def __init__(self, maildir, victim_pid):
        super().__init__(maildir)
        self.victim_pid = victim_pid

    async def handle_DATA(self, server, session, envelope):
        answer = await super().handle_DATA(server, session, envelope)
        with psycopg.connect(test_database_url(), autocommit=True) as admin:
            admin.execute("SELECT pg_terminate_backend(%s)", [self.victim_pid])
        return answer


def test_the_send_is_recorded_even_if_the_connection_dies_after_smtp_accepted(
    real_smtp, make_user, make_event, make_booking, tmp_path
):
    booking = make_booking(make_user(), make_event(make_user(), seated=False), count=1)
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        sender_pid = cursor.fetchone()[0]
    port = free_port()
    real_smtp.EMAIL_HOST, real_smtp.EMAIL_PORT = "127.0.0.1", port
    maildir = tmp_path / "mail"
    controller = Controller(
        TerminatingHandler(maildir, sender_pid), hostname="127.0.0.1", port=port
    )
    controller.start()
    try:
        # when the confirmation is sent and the connection dies right after the SMTP server
        # took it
        first = send_booking_confirmation(booking.pk)
        # and the task runs again (a retry or a redelivered outbox event)
        again = send_booking_confirmation(booking.pk)
    finally:
        controller.stop()
    # then the buyer got it once, and the send is on record
    assert (first, again) == (Outcome.SENT, Outcome.ALREADY_SENT)
    assert len(messages_for(maildir, booking)) == 1
    assert SentNotification.objects.get(booking=booking).sent_at is not None
