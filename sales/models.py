"""Read tables of the sales figures, kept by the projector (``sales/projector.py``).

Nothing here is the truth: every row can be thrown away and rebuilt from the booking side with
``manage.py rebuild_sales``. Counts are deltas summed over booking events, so the order in which
events arrive does not change the result. Counters have database defaults: the projector adds
to a row it may have to create, in one ``INSERT ... ON CONFLICT``. Held seats are not stored:
they live in Redis for minutes and are read from there when the figures are shown.
"""

from decimal import Decimal

from django.db import models


def _money():
    return models.DecimalField(
        max_digits=14, decimal_places=2, default=Decimal("0"), db_default=Decimal("0")
    )


class AppliedMessage(models.Model):
    """An outbox message the projector applied (or a rebuild already counted): each once."""

    message_id = models.BigIntegerField(primary_key=True)
    topic = models.CharField(max_length=100)
    applied_at = models.DateTimeField(auto_now_add=True)

    def __str__(self):
        return f"{self.topic} #{self.message_id}"


class EventSales(models.Model):
    """Per event: bookings, tickets and money.

    ``gross`` is the value of every booking ever confirmed (paid or not), ``refunds`` the value of
    those cancelled since, ``commission`` the platform's share of the paid ones still standing;
    the organizer's payout is what remains.
    """

    event = models.OneToOneField(
        "ticketing.Event", on_delete=models.CASCADE, primary_key=True, related_name="sales"
    )
    currency = models.CharField(max_length=3, default="EUR")
    tickets_sold = models.IntegerField(default=0, db_default=0)
    tickets_checked_in = models.IntegerField(default=0, db_default=0)
    bookings_confirmed = models.IntegerField(default=0, db_default=0)
    bookings_cancelled = models.IntegerField(default=0, db_default=0)
    bookings_failed = models.IntegerField(default=0, db_default=0)
    payments_declined = models.IntegerField(default=0, db_default=0)
    gross = _money()
    refunds = _money()
    commission = _money()

    class Meta:
        verbose_name_plural = "event sales"

    def __str__(self):
        return f"sales of event {self.event_id}"

    @property
    def payout(self) -> Decimal:
        return self.gross - self.refunds - self.commission


class SectionSales(models.Model):
    """Per section of a seated event's map: seats sold and tickets checked in."""

    event = models.ForeignKey("ticketing.Event", on_delete=models.CASCADE, related_name="+")
    section = models.ForeignKey("seatmaps.Section", on_delete=models.CASCADE, related_name="+")
    sold = models.IntegerField(default=0, db_default=0)
    checked_in = models.IntegerField(default=0, db_default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["event", "section"], name="section_sales_once")
        ]

    def __str__(self):
        return f"event {self.event_id} section {self.section_id}"


class CategorySales(models.Model):
    """Per price category: tickets sold, checked in, and the value of the sold ones."""

    event = models.ForeignKey("ticketing.Event", on_delete=models.CASCADE, related_name="+")
    price_category = models.ForeignKey(
        "ticketing.PriceCategory", on_delete=models.CASCADE, related_name="+"
    )
    sold = models.IntegerField(default=0, db_default=0)
    checked_in = models.IntegerField(default=0, db_default=0)
    value = _money()

    class Meta:
        verbose_name_plural = "category sales"
        constraints = [
            models.UniqueConstraint(fields=["event", "price_category"], name="category_sales_once")
        ]

    def __str__(self):
        return f"event {self.event_id} category {self.price_category_id}"


class HourlySales(models.Model):
    """Per event and hour (UTC): what was confirmed and what was cancelled in that hour."""

    event = models.ForeignKey("ticketing.Event", on_delete=models.CASCADE, related_name="+")
    hour = models.DateTimeField()
    tickets_sold = models.IntegerField(default=0, db_default=0)
    tickets_cancelled = models.IntegerField(default=0, db_default=0)
    gross = _money()
    refunds = _money()

    class Meta:
        ordering = ["event", "hour"]
        verbose_name_plural = "hourly sales"
        constraints = [models.UniqueConstraint(fields=["event", "hour"], name="hourly_sales_once")]

    def __str__(self):
        return f"event {self.event_id} at {self.hour:%Y-%m-%d %H}:00"
