"""Rebuild the sales read tables from the booking side (``manage.py rebuild_sales``).

The same sums as the projector, computed in SQL over bookings, tickets and payments, in one
REPEATABLE READ transaction: the figures and the list of outbox messages they already include
come from one snapshot. Those messages are recorded as applied, so when the projector receives
them (now or after a redelivery) they are not counted twice; messages committed after the
snapshot are applied by the projector as usual. A rebuild holds the projection lock
exclusively, so no event is being applied meanwhile.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC
from decimal import Decimal

from django.db import connection, transaction
from django.db.models import Count, Q, Sum
from django.db.models.functions import TruncHour

from payments.models import Payment
from registration_worker.models import Booking, OutboxMessage, Ticket
from sales.models import AppliedMessage, CategorySales, EventSales, HourlySales, SectionSales
from sales.projector import CHARGED, PROJECTION_LOCK
from shared.enums import BookingStatus, FailureReason
from shared.messaging import SALES_TOPICS

EVER_CONFIRMED = Q(confirmed_at__isnull=False)
SOLD = Q(booking__status=BookingStatus.CONFIRMED)


def rebuild_sales() -> int:
    """Throw the read tables away and compute them again; returns the events with figures."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_lock(%s, %s)", PROJECTION_LOCK)
    try:
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            for model in (HourlySales, CategorySales, SectionSales, EventSales):
                model.objects.all().delete()
            _mark_applied()
            events = _event_rows()
            EventSales.objects.bulk_create(events)
            SectionSales.objects.bulk_create(_section_rows())
            CategorySales.objects.bulk_create(_category_rows())
            HourlySales.objects.bulk_create(_hourly_rows())
            return len(events)
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(%s, %s)", PROJECTION_LOCK)


def _mark_applied() -> None:
    table = AppliedMessage._meta.db_table
    outbox = OutboxMessage._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (message_id, topic, applied_at) "  # noqa: S608 (model tables)
            f"SELECT id, topic, now() FROM {outbox} WHERE topic = ANY(%s) ON CONFLICT DO NOTHING",
            [sorted(SALES_TOPICS)],
        )


def _event_rows() -> list[EventSales]:
    rows: dict[int, EventSales] = {}

    def row(event_id, currency):
        if event_id not in rows:
            rows[event_id] = EventSales(event_id=event_id, currency=currency)
        return rows[event_id]

    bookings = (
        Booking.objects.values("event_id", "currency")
        .annotate(
            confirmed=Count("id", filter=EVER_CONFIRMED),
            cancelled=Count("id", filter=EVER_CONFIRMED & Q(status=BookingStatus.CANCELLED)),
            failed=Count("id", filter=Q(status=BookingStatus.FAILED)),
            declined=Count(
                "id",
                filter=Q(
                    status=BookingStatus.FAILED, failure_reason=FailureReason.PAYMENT_DECLINED
                ),
            ),
            gross=Sum("total", filter=EVER_CONFIRMED),
            refunds=Sum("total", filter=EVER_CONFIRMED & Q(status=BookingStatus.CANCELLED)),
        )
        .filter(Q(confirmed__gt=0) | Q(failed__gt=0))
        .order_by()
    )
    for b in bookings:
        sales = row(b["event_id"], b["currency"])
        sales.bookings_confirmed += b["confirmed"]
        sales.bookings_cancelled += b["cancelled"]
        sales.bookings_failed += b["failed"]
        sales.payments_declined += b["declined"]
        sales.gross += b["gross"] or Decimal(0)
        sales.refunds += b["refunds"] or Decimal(0)
    commissions = (
        Payment.objects.filter(status__in=CHARGED, booking__status=BookingStatus.CONFIRMED)
        .values("booking__event_id", "booking__currency")
        .annotate(commission=Sum("commission"))
        .order_by()
    )
    for c in commissions:
        row(c["booking__event_id"], c["booking__currency"]).commission += c["commission"]
    tickets = (
        Ticket.objects.values("event_id", "currency")
        .annotate(
            sold=Count("id", filter=SOLD),
            checked_in=Count("id", filter=Q(checked_in_at__isnull=False)),
        )
        .filter(Q(sold__gt=0) | Q(checked_in__gt=0))
        .order_by()
    )
    for t in tickets:
        sales = row(t["event_id"], t["currency"])
        sales.tickets_sold += t["sold"]
        sales.tickets_checked_in += t["checked_in"]
    return list(rows.values())


def _ticket_counts(group_by: str):
    return (
        Ticket.objects.values("event_id", group_by)
        .annotate(
            sold=Count("id", filter=SOLD),
            checked_in=Count("id", filter=Q(checked_in_at__isnull=False)),
            value=Sum("price", filter=SOLD),
        )
        .filter(Q(sold__gt=0) | Q(checked_in__gt=0))
        .order_by()
    )


def _section_rows() -> list[SectionSales]:
    return [
        SectionSales(
            event_id=r["event_id"],
            section_id=r["seat__section_id"],
            sold=r["sold"],
            checked_in=r["checked_in"],
        )
        for r in _ticket_counts("seat__section_id").filter(seat__isnull=False)
    ]


def _category_rows() -> list[CategorySales]:
    return [
        CategorySales(
            event_id=r["event_id"],
            price_category_id=r["price_category_id"],
            sold=r["sold"],
            checked_in=r["checked_in"],
            value=r["value"] or Decimal(0),
        )
        for r in _ticket_counts("price_category_id")
    ]


def _hourly_rows() -> list[HourlySales]:
    # Two queries per side: a ticket count joins the tickets, which would multiply the totals.
    rows: dict[tuple, HourlySales | None] = defaultdict(lambda: None)
    confirmed = (
        Booking.objects.filter(EVER_CONFIRMED)
        .annotate(hour=TruncHour("confirmed_at", tzinfo=UTC))
        .values("event_id", "hour")
        .annotate(tickets=Count("tickets"))
        .order_by()
    )
    gross = (
        Booking.objects.filter(EVER_CONFIRMED)
        .annotate(hour=TruncHour("confirmed_at", tzinfo=UTC))
        .values("event_id", "hour")
        .annotate(value=Sum("total"))
        .order_by()
    )
    cancelled = (
        Booking.objects.filter(EVER_CONFIRMED, status=BookingStatus.CANCELLED)
        .annotate(hour=TruncHour("cancelled_at", tzinfo=UTC))
        .values("event_id", "hour")
        .annotate(tickets=Count("tickets"))
        .order_by()
    )
    refunds = (
        Booking.objects.filter(EVER_CONFIRMED, status=BookingStatus.CANCELLED)
        .annotate(hour=TruncHour("cancelled_at", tzinfo=UTC))
        .values("event_id", "hour")
        .annotate(value=Sum("total"))
        .order_by()
    )

    def row(r):
        key = (r["event_id"], r["hour"])
        if rows[key] is None:
            rows[key] = HourlySales(event_id=r["event_id"], hour=r["hour"])
        return rows[key]

    for r in confirmed:
        row(r).tickets_sold += r["tickets"]
    for r in gross:
        row(r).gross += r["value"]
    for r in cancelled:
        row(r).tickets_cancelled += r["tickets"]
    for r in refunds:
        row(r).refunds += r["value"]
    return [r for r in rows.values() if r is not None]
