"""What the notifier has already sent, so a retried or redelivered task never sends twice."""

from django.conf import settings
from django.db import models
from django.utils import timezone


class SentNotification(models.Model):
    """One row per (booking, kind): claimed before the send, marked sent after it.

    The claim commits before the SMTP server is contacted and the mark after it accepted the
    message, each in its own transaction (see ``notifications.emails``): the record of a send
    never depends on a connection that may die while the mail goes out. A failed send deletes
    its claim.
    """

    class Kind(models.TextChoices):
        BOOKING_CONFIRMED = "booking_confirmed", "Booking confirmed (tickets attached)"
        BOOKING_CANCELLED = "booking_cancelled", "Booking cancelled"
        PAYMENT_DECLINED = "payment_declined", "Payment declined"

    booking = models.ForeignKey(
        "registration_worker.Booking", on_delete=models.CASCADE, related_name="notifications_sent"
    )
    kind = models.CharField(max_length=40, choices=Kind.choices)
    claim = models.UUIDField(null=True, blank=True, help_text="The sender holding the claim.")
    claimed_at = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(null=True, blank=True, help_text="Empty: claimed, not sent.")

    class Meta:
        ordering = ["-claimed_at"]
        constraints = [
            models.UniqueConstraint(fields=["booking", "kind"], name="one_notification_per_kind")
        ]

    def __str__(self):
        return f"{self.kind} for {self.booking_id}"


class SentUserNotification(models.Model):
    """One row per (user, kind) of the mails about an account rather than a booking; the same
    send-once rule as ``SentNotification``."""

    class Kind(models.TextChoices):
        WELCOME = "welcome", "Welcome (first login)"

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications_sent"
    )
    kind = models.CharField(max_length=40, choices=Kind.choices)
    sent_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "kind"], name="one_user_notification_per_kind")
        ]

    def __str__(self):
        return f"{self.kind} for user {self.user_id}"
