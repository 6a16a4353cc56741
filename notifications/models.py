"""What the notifier has already sent, so a retried or redelivered task never sends twice."""

from django.conf import settings
from django.db import models


class SentNotification(models.Model):
    """One row per (booking, kind) that reached the SMTP server.

    The row is inserted in the same transaction that sends the mail and commits only after the
    SMTP server accepted it (see ``notifications.emails``): a failed send leaves no row, a
    concurrent duplicate waits on the unique index until the first one commits or rolls back.
    """

    class Kind(models.TextChoices):
        BOOKING_CONFIRMED = "booking_confirmed", "Booking confirmed (tickets attached)"
        BOOKING_CANCELLED = "booking_cancelled", "Booking cancelled"
        PAYMENT_DECLINED = "payment_declined", "Payment declined"

    booking = models.ForeignKey(
        "registration_worker.Booking", on_delete=models.CASCADE, related_name="notifications_sent"
    )
    kind = models.CharField(max_length=40, choices=Kind.choices)
    sent_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-sent_at"]
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
