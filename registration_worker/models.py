"""The booking side: bookings, their tickets and the outbox of events to relay.

Foreign keys to ticketing and seatmaps are declared by string: this app never imports
``ticketing`` (see docs/architecture.md, dependency direction).
"""

import secrets
import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q

from shared.enums import LIVE_TICKET, BookingSource, BookingStatus, TicketStatus

# Crockford-like alphabet: no 0/O or 1/I/L, so a reference read over the phone is unambiguous.
_REFERENCE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"


def new_reference() -> str:
    return "".join(secrets.choice(_REFERENCE_ALPHABET) for _ in range(8))


class Booking(models.Model):
    """A buyer's order for one event; it exists from the moment a registration is accepted.

    ``pending`` bookings have no tickets yet; the registration service turns them into
    ``confirmed`` (with tickets) or ``failed`` (with a reason).
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    reference = models.CharField(max_length=12, unique=True, default=new_reference, editable=False)
    buyer = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="bookings"
    )
    event = models.ForeignKey("ticketing.Event", on_delete=models.PROTECT, related_name="bookings")
    status = models.CharField(
        max_length=20, choices=BookingStatus.choices, default=BookingStatus.PENDING
    )
    source = models.CharField(max_length=10, choices=BookingSource.choices)
    tracking_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    idempotency_key = models.CharField(max_length=100)
    request_fingerprint = models.CharField(max_length=64)
    hold_id = models.CharField(max_length=64)
    total = models.DecimalField(max_digits=12, decimal_places=2, default=0)
    currency = models.CharField(max_length=3, default="EUR")
    failure_reason = models.CharField(max_length=50, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    processing_started_at = models.DateTimeField(null=True, blank=True)
    confirmed_at = models.DateTimeField(null=True, blank=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["buyer", "idempotency_key"], name="booking_idempotency_key_per_buyer"
            )
        ]
        indexes = [models.Index(fields=["status", "created_at"], name="booking_status_created")]

    def __str__(self):
        return self.reference


class Ticket(models.Model):
    booking = models.ForeignKey(Booking, on_delete=models.CASCADE, related_name="tickets")
    event = models.ForeignKey("ticketing.Event", on_delete=models.PROTECT, related_name="tickets")
    seat = models.ForeignKey(
        "seatmaps.Seat", on_delete=models.PROTECT, null=True, blank=True, related_name="tickets"
    )
    price_category = models.ForeignKey(
        "ticketing.PriceCategory", on_delete=models.PROTECT, related_name="tickets"
    )
    price = models.DecimalField(max_digits=10, decimal_places=2)
    currency = models.CharField(max_length=3)
    code = models.CharField(max_length=64, unique=True)
    status = models.CharField(
        max_length=20, choices=TicketStatus.choices, default=TicketStatus.VALID
    )
    checked_in_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["booking", "id"]
        constraints = [
            # The last line of defence against a double sale: whatever Redis says, PostgreSQL
            # refuses a second live ticket for the same seat of the same event.
            models.UniqueConstraint(
                fields=["event", "seat"],
                condition=LIVE_TICKET,
                name="one_live_ticket_per_seat",
            )
        ]

    def __str__(self):
        return f"{self.booking.reference} #{self.pk}"


class OutboxMessage(models.Model):
    """An event written in the same transaction as the change it reports, relayed after commit."""

    topic = models.CharField(max_length=100)
    payload = models.JSONField()
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    # The trace id of the work that wrote the row (shared/logs.py); the relay puts it on the
    # message, so the consumer's log lines carry it too.
    trace_id = models.CharField(max_length=64, blank=True, default="")

    class Meta:
        ordering = ["id"]
        indexes = [
            models.Index(fields=["id"], condition=Q(sent_at__isnull=True), name="outbox_unsent")
        ]

    def __str__(self):
        return f"{self.topic} #{self.pk}"
