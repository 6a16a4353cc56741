"""Emails to buyers: a booking's confirmation (ticket PDF attached), its cancellation (with the
refund, and whether the organizer cancelled the event), a declined payment, and the welcome.

Each (booking, kind), and each (user, kind) for the welcome, is sent at most once and at least
once:

1. In one transaction, insert the ``SentNotification`` (or ``SentUserNotification``) row. A
   concurrent duplicate blocks on the unique index until this transaction ends, then either
   sees the row (already sent) or, if this one rolled back, goes ahead itself.
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
from django.contrib.auth import get_user_model
from django.core.exceptions import ObjectDoesNotExist
from django.core.mail import EmailMultiAlternatives, get_connection
from django.db import IntegrityError, OperationalError, transaction
from django.template.loader import render_to_string

from notifications.models import SentNotification, SentUserNotification
from notifications.pdf import format_price, holder_name, render_booking_pdf
from registration_worker.models import Booking
from shared.enums import BookingStatus, EventStatus, FailureReason
from shared.local_time import format_local

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
    USER_GONE = "user_gone"
    NOT_APPLICABLE = "not_applicable"  # the booking is no longer in the state the mail reports
    NO_ADDRESS = "no_address"


def _refund(booking: Booking) -> dict:
    """What was refunded for ``booking``: ``refund`` ("178.00 EUR") and its reference."""
    try:
        payment = booking.payment  # payments' row, reached through the ORM relation
    except ObjectDoesNotExist:
        return {}
    if payment.refunded_at is None:
        return {}
    return {
        "refund": format_price(payment.amount, payment.currency),
        "refund_reference": payment.refund_reference,
    }


def _context(booking: Booking) -> dict:
    event = booking.event
    return {
        "booking": booking,
        "event": event,
        "venue": event.venue,
        "starts_local": format_local(event.starts_at, event.venue.time_zone),
        "holder": holder_name(booking.buyer),
        "ticket_count": booking.tickets.count(),
        "total": format_price(booking.total, booking.currency),
        # Only an event that takes payment charges anything; prices of others are not paid here.
        "paid": event.requires_payment and booking.total > 0,
        "by_organizer": event.status == EventStatus.CANCELLED,
        **_refund(booking),
        "public_url": settings.PUBLIC_URL.rstrip("/"),
    }


def _email(
    *, to: str, template: str, subject: str, context: dict, headers: dict
) -> EmailMultiAlternatives:
    message = EmailMultiAlternatives(
        subject=subject,
        body=render_to_string(f"notifications/email/{template}.txt", context),
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[to],
        headers=headers,
        connection=get_connection(fail_silently=False),
    )
    message.attach_alternative(
        render_to_string(f"notifications/email/{template}.html", context), "text/html"
    )
    return message


def _message(booking: Booking, template: str, subject: str) -> EmailMultiAlternatives:
    return _email(
        to=booking.buyer.email,
        template=template,
        subject=subject,
        context=_context(booking),
        headers={"X-Booking-Reference": booking.reference},
    )


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


def build_payment_declined(booking: Booking) -> EmailMultiAlternatives:
    return _message(
        booking,
        "payment_declined",
        f"Payment declined: booking {booking.reference} for {booking.event.title}",
    )


def _declined(booking: Booking) -> bool:
    return booking.failure_reason == FailureReason.PAYMENT_DECLINED


# kind -> (the booking status the mail reports, an extra condition or None, builder)
_KINDS = {
    SentNotification.Kind.BOOKING_CONFIRMED: (BookingStatus.CONFIRMED, None, build_confirmation),
    SentNotification.Kind.BOOKING_CANCELLED: (BookingStatus.CANCELLED, None, build_cancellation),
    SentNotification.Kind.PAYMENT_DECLINED: (
        BookingStatus.FAILED,
        _declined,
        build_payment_declined,
    ),
}


def perform_send_once(booking_id, kind: SentNotification.Kind) -> Outcome:
    """Send the ``kind`` email of a booking unless it was sent before.

    Must not be called inside an outer transaction: the row that records the send has to
    commit right after the SMTP server accepted the message. Raises one of
    ``TRANSIENT_ERRORS`` when sending failed and a retry may succeed.
    """
    expected_status, applies, build = _KINDS[kind]
    booking = Booking.objects.select_related("buyer", "event__venue").filter(pk=booking_id).first()
    if booking is None:
        return Outcome.BOOKING_GONE
    if booking.status != expected_status or (applies is not None and not applies(booking)):
        log.info("booking %s is %s, not sending %s", booking.reference, booking.status, kind)
        return Outcome.NOT_APPLICABLE
    if not booking.buyer.email:
        log.warning(
            "buyer of booking %s has no email address; %s not sent", booking.reference, kind
        )
        return Outcome.NO_ADDRESS

    if not _send_once(SentNotification, {"booking": booking, "kind": kind}, lambda: build(booking)):
        return Outcome.ALREADY_SENT
    log.info("sent %s for booking %s to %s", kind, booking.reference, booking.buyer.email)
    return Outcome.SENT


def _send_once(record_model, key: dict, build) -> bool:
    """Record ``key`` and send ``build()`` in one transaction; False if it was sent before."""
    with transaction.atomic(durable=True):
        try:
            with transaction.atomic():
                # Waits here while another worker holds an uncommitted row for the same key.
                record_model.objects.create(**key)
        except IntegrityError:
            return False
        build().send()
    return True


def send_booking_confirmation(booking_id) -> Outcome:
    return perform_send_once(booking_id, SentNotification.Kind.BOOKING_CONFIRMED)


def send_booking_cancellation(booking_id) -> Outcome:
    return perform_send_once(booking_id, SentNotification.Kind.BOOKING_CANCELLED)


def send_payment_declined(booking_id) -> Outcome:
    return perform_send_once(booking_id, SentNotification.Kind.PAYMENT_DECLINED)


def build_welcome(user) -> EmailMultiAlternatives:
    return _email(
        to=user.email,
        template="welcome",
        subject="Welcome to Ticketing",
        context={
            "user": user,
            "name": holder_name(user),
            "public_url": settings.PUBLIC_URL.rstrip("/"),
        },
        headers={"X-Ticketing-Mail": "welcome"},
    )


def send_welcome(user_id) -> Outcome:
    """Welcome a new account once (its first login through Keycloak created it).

    Same rules as ``perform_send_once``: no outer transaction; transient errors raise.
    """
    user = get_user_model().objects.filter(pk=user_id).first()
    if user is None:
        return Outcome.USER_GONE
    if not user.email:
        log.warning("user %s has no email address; no welcome sent", user_id)
        return Outcome.NO_ADDRESS
    key = {"user": user, "kind": SentUserNotification.Kind.WELCOME}
    if not _send_once(SentUserNotification, key, lambda: build_welcome(user)):
        return Outcome.ALREADY_SENT
    log.info("sent the welcome to user %s", user_id)
    return Outcome.SENT
