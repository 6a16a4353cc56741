"""The ticketing domain: events and their price categories (venues belong to seatmaps)."""

from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator
from django.db import models

from seatmaps.models import Venue
from shared.enums import EventStatus, RegistrationMode


class Event(models.Model):
    Status = EventStatus

    RegistrationMode = RegistrationMode

    organizer = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="organized_events"
    )
    title = models.CharField(max_length=200)
    slug = models.SlugField(max_length=200, unique=True)
    description = models.TextField(
        blank=True, help_text="Markdown-free rich text; shown to buyers."
    )
    venue = models.ForeignKey(Venue, on_delete=models.PROTECT, related_name="events")
    seat_map = models.ForeignKey(
        "seatmaps.SeatMap",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="events",
        help_text="Leave empty for general admission.",
    )
    capacity = models.PositiveIntegerField(
        null=True, blank=True, help_text="Tickets on sale for general admission (no seat map)."
    )
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    sales_start = models.DateTimeField(null=True, blank=True)
    sales_end = models.DateTimeField(null=True, blank=True)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.DRAFT)
    registration_mode = models.CharField(
        max_length=20, choices=RegistrationMode.choices, default=RegistrationMode.SIMPLE
    )
    hold_ttl_seconds = models.PositiveIntegerField(default=600, validators=[MinValueValidator(10)])
    max_seats_per_order = models.PositiveIntegerField(default=10, validators=[MinValueValidator(1)])
    # Fair shares (shared/locks.py enforces both inside the hold script).
    max_seats_per_buyer = models.PositiveIntegerField(
        default=20,
        validators=[MinValueValidator(1)],
        help_text="Seats one buyer may hold and own at once for this event (holds + bookings).",
    )
    hold_cooldown_seconds = models.PositiveIntegerField(
        default=60,
        help_text="After releasing seats, the same buyer waits this long to hold them again.",
    )
    # Payments (payments/): a paid event's bookings wait in pending_payment until charged.
    requires_payment = models.BooleanField(
        default=False, help_text="Buyers pay through the payment provider when they register."
    )
    payment_deadline_minutes = models.PositiveIntegerField(
        default=15,
        validators=[MinValueValidator(1)],
        help_text="A booking still unpaid this long after registering is cancelled.",
    )
    refund_deadline = models.DateTimeField(
        null=True,
        blank=True,
        help_text="Buyers may cancel with a refund until then (empty: until the event starts).",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["starts_at"]

    def __str__(self):
        return self.title

    @property
    def is_general_admission(self) -> bool:
        return self.seat_map_id is None

    def clean(self):
        if self.seat_map_id is None and not self.capacity:
            raise ValidationError("An event needs a seat map or a capacity (general admission).")
        if self.seat_map_id is not None and self.capacity:
            raise ValidationError("Give a seat map or a capacity, not both.")
        if self.ends_at and self.starts_at and self.ends_at < self.starts_at:
            raise ValidationError("The event cannot end before it starts.")
        if self.sales_start and self.sales_end and self.sales_end < self.sales_start:
            raise ValidationError("Sales cannot end before they start.")


class PriceCategory(models.Model):
    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="price_categories")
    name = models.CharField(max_length=100)
    price = models.DecimalField(
        max_digits=10, decimal_places=2, validators=[MinValueValidator(Decimal("0"))]
    )
    currency = models.CharField(max_length=3, default="EUR")
    color = models.CharField(max_length=7, default="#3b82f6", help_text="Colour on the seat map.")
    sections = models.ManyToManyField(
        "seatmaps.Section", blank=True, related_name="price_categories"
    )

    class Meta:
        ordering = ["event", "-price", "name"]
        verbose_name_plural = "price categories"
        constraints = [
            models.UniqueConstraint(fields=["event", "name"], name="price_category_unique_name")
        ]

    def __str__(self):
        return f"{self.name} ({self.price} {self.currency})"
