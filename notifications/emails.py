"""Emails to buyers: a booking's confirmation (ticket PDF attached), its cancellation (with the
refund, and whether the organizer cancelled the event), a declined payment, and the welcome.

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

The welcome (one per user) is recorded in the transaction that sends it (``_send_once``): a
PostgreSQL restart in the middle can send it twice, which a welcome can afford.

A duplicate that finds a claim not marked sent (its sender is retrying the mark) raises
``SendInProgress`` and is retried later. Only a claim older than
``NOTIFICATION_CLAIM_SECONDS`` (its sender died between the SMTP server's acceptance and the
mark) is taken over and sent again: at-least-once there, since a lost ticket is worse than a
duplicate.
"""

import contextlib
import enum
import smtplib
import socket
import time
import uuid

import structlog
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ObjectDoesNotExist
from django.core.mail import EmailMultiAlternatives, get_connection
from django.db import IntegrityError, transaction
from django.template.loader import render_to_string
from django.utils import timezone

from notifications.models import SentNotification, SentUserNotification
from notifications.pdf import format_price, holder_name, render_booking_pdf
from registration_worker.models import Booking
from shared.db_locks import LockSpace, session_lock
from shared.enums import BookingStatus, EventStatus, FailureReason
from shared.local_time import format_local
from shared.transient import TRANSIENT_ERRORS as DEPENDENCY_ERRORS
from shared.transient import drop_dead_database_connections

log = structlog.get_logger(__name__)


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

    Must not be called inside an outer transaction: the claim and the mark each commit on
    their own. Raises one of ``TRANSIENT_ERRORS`` when sending failed and a retry may succeed.
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

    with session_lock(
        LockSpace.EMAIL_SEND, f"{booking.pk}:{kind}", release_errors=DEPENDENCY_ERRORS
    ):
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
    # Names the booking, not the buyer's address: the logs need no personal data.
    log.info("email sent", kind=str(kind), booking_id=str(booking.pk), reference=booking.reference)
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
    log.info("email sent", kind="welcome", user_id=user_id)
    return Outcome.SENT
