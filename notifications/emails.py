"""Booking emails: the confirmation with the ticket PDF attached, and the cancellation notice.

Each (booking, kind) is sent at most once and at least once:

1. In one transaction, insert the ``SentNotification`` row for (booking, kind). A concurrent
   duplicate blocks on the unique index until this transaction ends, then either sees the row
   (already sent) or, if this one rolled back, goes ahead itself.
2. Send over SMTP, still inside the transaction.
3. Commit only after the SMTP server accepted the message. A failed send raises, the
   transaction rolls back, no row remains, and the task's retry sends again.

The one window left is a commit that fails after the SMTP server accepted the message (the
database went away in between): the retry then sends a second copy. At-least-once is the
deliberate choice there; a lost ticket is worse than a duplicate.
"""

import enum
import logging
import smtplib
import socket

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection
from django.db import IntegrityError, OperationalError, transaction
from django.template.loader import render_to_string

from notifications.models import SentNotification
from notifications.pdf import holder_name, render_booking_pdf
from registration_worker.models import Booking
from shared.enums import BookingStatus

log = logging.getLogger(__name__)

# What makes a send worth retrying: the SMTP server or the network (or the database) had a
# problem that may go away. Anything else is a bug and fails loudly.
TRANSIENT_ERRORS = (
    smtplib.SMTPException,
    ConnectionError,
    TimeoutError,
    socket.gaierror,
    OperationalError,
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

    Must not be called inside an outer transaction: the row that records the send has to
    commit right after the SMTP server accepted the message. Raises one of
    ``TRANSIENT_ERRORS`` when sending failed and a retry may succeed.
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

    with transaction.atomic(durable=True):
        try:
            with transaction.atomic():
                # Waits here while another worker holds an uncommitted row for the same key.
                SentNotification.objects.create(booking=booking, kind=kind)
        except IntegrityError:
            return Outcome.ALREADY_SENT
        build(booking).send()
    log.info("sent %s for booking %s to %s", kind, booking.reference, booking.buyer.email)
    return Outcome.SENT


def send_booking_confirmation(booking_id) -> Outcome:
    return perform_send_once(booking_id, SentNotification.Kind.BOOKING_CONFIRMED)


def send_booking_cancellation(booking_id) -> Outcome:
    return perform_send_once(booking_id, SentNotification.Kind.BOOKING_CANCELLED)
