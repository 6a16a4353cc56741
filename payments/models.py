"""Payments of bookings: one Payment per paid booking, its saga steps, the platform's commission.

Card data never reaches this database: a Payment keeps the provider's token reference (issued to
the buyer's client by the provider) and the provider's charge and refund references.
Foreign keys to other apps are declared by string.
"""

from decimal import Decimal

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models


class OrganizerCommission(models.Model):
    """The platform's cut of an organizer's sales; organizers without one pay the defaults
    (``PAYMENT_COMMISSION_PERCENT`` and ``PAYMENT_COMMISSION_FIXED_FEE``)."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="commission"
    )
    percent = models.DecimalField(
        max_digits=5,
        decimal_places=2,
        validators=[MinValueValidator(Decimal("0")), MaxValueValidator(Decimal("100"))],
        help_text="Percentage of each booking's total.",
    )
    fixed_fee = models.DecimalField(
        max_digits=10,
        decimal_places=2,
        default=Decimal("0"),
        validators=[MinValueValidator(Decimal("0"))],
        help_text="Added per booking, in the booking's currency.",
    )

    def __str__(self):
        return f"{self.user}: {self.percent}% + {self.fixed_fee}"


class Payment(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        APPROVED = "approved", "Approved"
        DECLINED = "declined", "Declined"
        UNKNOWN = "unknown", "Unknown (provider did not answer)"
        REFUNDED = "refunded", "Refunded"
        VOIDED = "voided", "Voided (never charged)"

    booking = models.OneToOneField(
        "registration_worker.Booking", on_delete=models.PROTECT, related_name="payment"
    )
    amount = models.DecimalField(max_digits=12, decimal_places=2)
    currency = models.CharField(max_length=3)
    commission = models.DecimalField(max_digits=12, decimal_places=2)
    organizer_share = models.DecimalField(max_digits=12, decimal_places=2)
    provider = models.CharField(max_length=50)
    token_ref = models.CharField(max_length=100, help_text="The provider's payment token.")
    provider_reference = models.CharField(max_length=100, blank=True)
    refund_reference = models.CharField(max_length=100, blank=True)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0, help_text="Calls that may have charged.")
    idempotency_key = models.CharField(max_length=100, unique=True)
    deadline_at = models.DateTimeField(help_text="Unpaid by then: the booking is cancelled.")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    approved_at = models.DateTimeField(null=True, blank=True)
    refunded_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["status", "deadline_at"], name="payment_status_deadline")]

    def __str__(self):
        return f"{self.amount} {self.currency} ({self.status})"


class PaymentAttempt(models.Model):
    """One step of a booking's payment saga and what came of it (shown on the booking)."""

    class Step(models.TextChoices):
        CHARGE = "charge", "Charge"
        LOOKUP = "lookup", "Look up the charge"
        CONFIRM = "confirm", "Confirm the booking"
        COMPENSATE = "compensate", "Compensate (cancel tickets, release seats)"
        REFUND = "refund", "Refund"

    payment = models.ForeignKey(Payment, on_delete=models.CASCADE, related_name="steps")
    booking = models.ForeignKey(
        "registration_worker.Booking", on_delete=models.CASCADE, related_name="payment_steps"
    )
    step = models.CharField(max_length=20, choices=Step.choices)
    outcome = models.CharField(max_length=20)
    detail = models.CharField(max_length=300, blank=True)
    provider_reference = models.CharField(max_length=100, blank=True)
    duration_ms = models.PositiveIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]

    def __str__(self):
        return f"{self.step}: {self.outcome}"
