"""The vocabulary every layer shares: statuses, reasons, registration modes, live tickets."""

from django.db import models
from django.db.models import Q


class BookingStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    # Paid events: tickets written (the seats are kept), the payments saga not settled yet.
    PENDING_PAYMENT = "pending_payment", "Awaiting payment"
    CONFIRMED = "confirmed", "Confirmed"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"
    EXPIRED = "expired", "Expired"


class BookingSource(models.TextChoices):
    SIMPLE = "simple", "Simple"
    QUEUED = "queued", "Queued"


class TicketStatus(models.TextChoices):
    VALID = "valid", "Valid"
    USED = "used", "Used"
    CANCELLED = "cancelled", "Cancelled"


# A live ticket keeps its seat sold: any status but cancelled. LIVE_TICKET is the same rule as a
# filter on tickets; it is also the condition of the unique index against double sales.
LIVE_TICKET_STATUSES = tuple(s for s in TicketStatus if s != TicketStatus.CANCELLED)
LIVE_TICKET = ~Q(status=TicketStatus.CANCELLED)


class RegistrationStatus(models.TextChoices):
    """What ``GET /registrations/{tracking_id}/`` reports; derived from the booking."""

    QUEUED = "queued", "Queued"
    PROCESSING = "processing", "Processing"
    PENDING_PAYMENT = "pending_payment", "Awaiting payment"
    CONFIRMED = "confirmed", "Confirmed"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"


class FailureReason(models.TextChoices):
    HOLD_EXPIRED = "hold_expired", "The hold expired before the booking was made"
    SEAT_TAKEN = "seat_taken", "A seat was sold to someone else"
    SOLD_OUT = "sold_out", "Not enough tickets left"
    BROKER_UNAVAILABLE = "broker_unavailable", "The queue could not accept the registration"
    PAYMENT_DECLINED = "payment_declined", "The payment was declined"
    PAYMENT_TIMEOUT = "payment_timeout", "The payment was not completed in time"
    EVENT_CANCELLED = "event_cancelled", "The event was cancelled before the payment"


class EventStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    ON_SALE = "on_sale", "On sale"
    CLOSED = "closed", "Sales closed"
    CANCELLED = "cancelled", "Cancelled"


class RegistrationMode(models.TextChoices):
    """How an event books: in the request, or through the queue and the booking worker."""

    SIMPLE = "simple", "Simple (booked in the request)"
    QUEUED = "queued", "Queued (high demand, booked by the worker)"
