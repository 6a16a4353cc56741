"""Booking emails: the confirmation with the ticket PDF attached, and the cancellation notice.

Each (booking, kind) is sent once, and its record never depends on a connection that may die
while the mail goes out (a PostgreSQL restart sent confirmations twice when the record was
committed in the transaction that sent the mail):

1. A PostgreSQL session lock on (booking, kind) is taken: a concurrent duplicate waits here
   until this send is over, then finds it recorded.
2. A ``SentNotification`` claim (our token, no ``sent_at``) is committed.
3. The mail goes to the SMTP server. A failed send deletes the claim and raises; the task's
   retry sends again.
4. The claim is marked sent. If the connection died meanwhile (the session lock went with it),
   the mark is retried on fresh connections for ``NOTIFICATION_RECORD_RETRY_SECONDS``: the send
   is known to have happened, so nothing is sent again.

A duplicate that finds a claim not marked sent (its sender is retrying the mark) raises
``SendInProgress`` and is retried later. Only a claim older than
``NOTIFICATION_CLAIM_SECONDS`` (its sender died between the SMTP server's acceptance and the
mark) is taken over and sent again: at-least-once there, since a lost ticket is worse than a
duplicate.
"""

import contextlib
import enum
import logging
import smtplib
import socket
import time
import uuid

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection
from django.db import connection, transaction
from django.template.loader import render_to_string
from django.utils import timezone

from notifications.models import SentNotification
from notifications.pdf import holder_name, render_booking_pdf
from registration_worker.models import Booking
from registration_worker.retries import drop_dead_database_connections
from shared.enums import BookingStatus
from shared.transient import TRANSIENT_ERRORS as DEPENDENCY_ERRORS

log = logging.getLogger(__name__)


# What makes a send worth retrying: the SMTP server or the network (or the database) had a
# problem that may go away. Anything else is a bug and fails loudly.
class SendInProgress(Exception):
    """Another sender claimed this email and may have sent it; look again later."""


TRANSIENT_ERRORS = (
    SendInProgress,
    smtplib.SMTPException,
    socket.gaierror,
    *DEPENDENCY_ERRORS,
)


class Outcome(enum.StrEnum):
    SENT = "sent"
    ALREADY_SENT = "already_sent"
    BOOKING_GONE = "booking_gone"
    NOT_APPLICABLE = "not_applicable"  # the booking is no longer in the state the mail reports
    NO_ADDRESS = "no_address"


def _context(booking: Booking) -> dict:
    event = booking.event
    return {
        "booking": booking,
        "event": event,
        "venue": event.venue,
        "holder": holder_name(booking.buyer),
        "ticket_count": booking.tickets.count(),
        "public_url": settings.PUBLIC_URL.rstrip("/"),
    }


def _message(booking: Booking, template: str, subject: str) -> EmailMultiAlternatives:
    context = _context(booking)
    message = EmailMultiAlternatives(
        subject=subject,
        body=render_to_string(f"notifications/email/{template}.txt", context),
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[booking.buyer.email],
        headers={"X-Booking-Reference": booking.reference},
        connection=get_connection(fail_silently=False),
    )
    message.attach_alternative(
        render_to_string(f"notifications/email/{template}.html", context), "text/html"
    )
    return message


def build_confirmation(booking: Booking) -> EmailMultiAlternatives:
    message = _message(
        booking,
        "booking_confirmed",
        f"Your tickets for {booking.event.title} (booking {booking.reference})",
    )
    message.attach(
        f"tickets-{booking.reference}.pdf", render_booking_pdf(booking), "application/pdf"
    )
    return message


def build_cancellation(booking: Booking) -> EmailMultiAlternatives:
    return _message(
        booking,
        "booking_cancelled",
        f"Booking {booking.reference} for {booking.event.title} is cancelled",
    )


_KINDS = {
    SentNotification.Kind.BOOKING_CONFIRMED: (BookingStatus.CONFIRMED, build_confirmation),
    SentNotification.Kind.BOOKING_CANCELLED: (BookingStatus.CANCELLED, build_cancellation),
}


def perform_send_once(booking_id, kind: SentNotification.Kind) -> Outcome:
    """Send the ``kind`` email of a booking unless it was sent before.

    Must not be called inside an outer transaction: the claim and the mark each commit on
    their own. Raises one of ``TRANSIENT_ERRORS`` when sending failed and a retry may succeed.
    """
    expected_status, build = _KINDS[kind]
    booking = Booking.objects.select_related("buyer", "event__venue").filter(pk=booking_id).first()
    if booking is None:
        return Outcome.BOOKING_GONE
    if booking.status != expected_status:
        log.info("booking %s is %s, not sending %s", booking.reference, booking.status, kind)
        return Outcome.NOT_APPLICABLE
    if not booking.buyer.email:
        log.warning(
            "buyer of booking %s has no email address; %s not sent", booking.reference, kind
        )
        return Outcome.NO_ADDRESS

    with _sending_lock(booking.pk, kind):
        claim = _claim(booking, kind)
        if claim is None:
            return Outcome.ALREADY_SENT
        try:
            build(booking).send()
        except Exception:
            with contextlib.suppress(*DEPENDENCY_ERRORS):
                SentNotification.objects.filter(pk=claim.pk, claim=claim.claim).delete()
            raise
        _mark_sent(claim)
    log.info("sent %s for booking %s to %s", kind, booking.reference, booking.buyer.email)
    return Outcome.SENT


@contextlib.contextmanager
def _sending_lock(booking_id, kind: str):
    """A session-level advisory lock of this connection on (booking, kind)."""
    key = f"email:{booking_id}:{kind}"
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_lock(hashtext(%s))", [key])
    try:
        yield
    finally:
        # A dead connection took the lock with it.
        with contextlib.suppress(*DEPENDENCY_ERRORS), connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(hashtext(%s))", [key])


def _claim(booking: Booking, kind: str) -> SentNotification | None:
    """Our committed claim, or None if the email was sent; raises SendInProgress."""
    token = uuid.uuid4()
    with transaction.atomic(durable=True):  # committed before the mail goes out
        row, created = SentNotification.objects.select_for_update().get_or_create(
            booking=booking, kind=kind, defaults={"claim": token}
        )
        if created:
            return row
        if row.sent_at is not None:
            return None
        age = (timezone.now() - row.claimed_at).total_seconds()
        if age < settings.NOTIFICATION_CLAIM_SECONDS:
            raise SendInProgress(f"{kind} of booking {booking.pk} claimed {age:.0f} s ago")
        log.warning("taking over the %s claim of booking %s (%.0f s old)", kind, booking.pk, age)
        row.claim, row.claimed_at = token, timezone.now()
        row.save(update_fields=["claim", "claimed_at"])
        return row


def _mark_sent(claim: SentNotification) -> None:
    """Record the accepted send; retried on fresh connections, never by sending again."""
    give_up_at = time.monotonic() + settings.NOTIFICATION_RECORD_RETRY_SECONDS
    wait = 0.5
    while True:
        try:
            SentNotification.objects.filter(pk=claim.pk, claim=claim.claim).update(
                sent_at=timezone.now()
            )
            return
        except DEPENDENCY_ERRORS as exc:
            if time.monotonic() + wait > give_up_at:
                log.error("sent %s for booking %s but could not record it (%s)",
                          claim.kind, claim.booking_id, exc)  # fmt: skip
                return
            log.warning("recording the sent %s of booking %s failed (%s); again in %.1f s",
                        claim.kind, claim.booking_id, type(exc).__name__, wait)  # fmt: skip
            drop_dead_database_connections()
            time.sleep(wait)
            wait = min(wait * 2, 5.0)


def send_booking_confirmation(booking_id) -> Outcome:
    return perform_send_once(booking_id, SentNotification.Kind.BOOKING_CONFIRMED)


def send_booking_cancellation(booking_id) -> Outcome:
    return perform_send_once(booking_id, SentNotification.Kind.BOOKING_CANCELLED)
