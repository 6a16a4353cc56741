"""Status values shared by the API, the worker and the notifications."""

from django.db import models


class BookingStatus(models.TextChoices):
    PENDING = "pending", "Pending"
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


class RegistrationStatus(models.TextChoices):
    """What ``GET /registrations/{tracking_id}/`` reports; derived from the booking."""

    QUEUED = "queued", "Queued"
    PROCESSING = "processing", "Processing"
    CONFIRMED = "confirmed", "Confirmed"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"


class FailureReason(models.TextChoices):
    HOLD_EXPIRED = "hold_expired", "The hold expired before the booking was made"
    SEAT_TAKEN = "seat_taken", "A seat was sold to someone else"
    SOLD_OUT = "sold_out", "Not enough tickets left"
    BROKER_UNAVAILABLE = "broker_unavailable", "The queue could not accept the registration"
