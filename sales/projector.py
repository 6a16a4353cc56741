"""The projector: applies booking events from the outbox to the sales read tables.

Each event is applied once, by its outbox message id: the ``AppliedMessage`` row and the
figures it changes commit in one transaction, so a redelivery (a crash before the ack, a
duplicate publish by the relay) finds the row and changes nothing.

An event names a booking (or a ticket); what it adds is read from the booking side's facts that
never change once written: a booking's tickets (seat, category, price), its total, its
confirmation and cancellation times and its payment's commission. Every change is a sum of
deltas, so events applied in any order give the same figures, and ``rebuild.rebuild_sales``
computes those same sums straight from the booking side.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.db import OperationalError, connection, transaction
from django.db.models import Count, Sum

from payments.models import Payment
from registration_worker.models import Booking, Ticket
from sales.models import AppliedMessage, CategorySales, EventSales, HourlySales, SectionSales
from shared.enums import FailureReason
from shared.logs import traced
from shared.messaging import (
    TOPIC_BOOKING_CANCELLED,
    TOPIC_BOOKING_CONFIRMED,
    TOPIC_BOOKING_FAILED,
    TOPIC_TICKET_CHECKED_IN,
)

log = logging.getLogger(__name__)

# pg advisory lock shared by every projector transaction and taken exclusively by a rebuild,
# so a rebuild never interleaves with an event being applied.
PROJECTION_LOCK = (7101, 1)
# A commission counts while its payment took the money (and is reversed with the booking).
CHARGED = (Payment.Status.APPROVED, Payment.Status.REFUNDED)


def hour_of(moment: datetime) -> datetime:
    return moment.replace(minute=0, second=0, microsecond=0)


@dataclass(frozen=True)
class BookingFacts:
    booking: Booking
    commission: Decimal
    lines: list[dict]  # per (section, category): tickets and their value

    @property
    def tickets(self) -> int:
        return sum(line["n"] for line in self.lines)


def booking_facts(booking_id) -> BookingFacts | None:
    booking = Booking.objects.filter(pk=booking_id).first()
    if booking is None:
        return None
    commission = (
        Payment.objects.filter(booking_id=booking_id, status__in=CHARGED)
        .values_list("commission", flat=True)
        .first()
    )
    lines = list(
        Ticket.objects.filter(booking_id=booking_id)
        .values("seat__section_id", "price_category_id")
        .annotate(n=Count("id"), value=Sum("price"))
        .order_by()
    )
    return BookingFacts(booking, commission or Decimal(0), lines)


def add(model, keys: dict, deltas: dict, insert_only: dict | None = None) -> None:
    """Add ``deltas`` to the row of ``model`` named by ``keys`` (created if missing), in one
    ``INSERT ... ON CONFLICT DO UPDATE``: concurrent projectors cannot lose an increment."""
    meta = model._meta
    columns = {meta.get_field(name).column: value for name, value in keys.items()}
    fixed = {meta.get_field(name).column: v for name, v in (insert_only or {}).items()}
    sums = {meta.get_field(name).column: value for name, value in deltas.items()}
    names = [*columns, *fixed, *sums]
    table = connection.ops.quote_name(meta.db_table)
    updates = ", ".join(f"{c} = {table}.{c} + EXCLUDED.{c}" for c in sums)
    # Identifiers come from the model's metadata; every value is a parameter.
    placeholders = ", ".join(["%s"] * len(names))
    insert = f"INSERT INTO {table} ({', '.join(names)}) VALUES ({placeholders})"  # noqa: S608
    sql = f"{insert} ON CONFLICT ({', '.join(columns)}) DO UPDATE SET {updates}"
    with connection.cursor() as cursor:
        cursor.execute(sql, [*columns.values(), *fixed.values(), *sums.values()])


def _booking_changed(facts: BookingFacts, sign: int) -> None:
    """A booking confirmed (+1) or cancelled (-1): its tickets, value and commission."""
    booking = facts.booking
    event_id = booking.event_id
    for line in facts.lines:
        if line["seat__section_id"] is not None:
            add(
                SectionSales,
                {"event": event_id, "section": line["seat__section_id"]},
                {"sold": sign * line["n"]},
            )
        add(
            CategorySales,
            {"event": event_id, "price_category": line["price_category_id"]},
            {"sold": sign * line["n"], "value": sign * line["value"]},
        )
    if sign > 0:
        totals = {"bookings_confirmed": 1, "gross": booking.total}
        hourly = {"tickets_sold": facts.tickets, "gross": booking.total}
        moment = booking.confirmed_at
    else:
        totals = {"bookings_cancelled": 1, "refunds": booking.total}
        hourly = {"tickets_cancelled": facts.tickets, "refunds": booking.total}
        moment = booking.cancelled_at
    totals.update(tickets_sold=sign * facts.tickets, commission=sign * facts.commission)
    add(EventSales, {"event": event_id}, totals, {"currency": booking.currency})
    add(HourlySales, {"event": event_id, "hour": hour_of(moment)}, hourly)


def _confirmed(payload: dict) -> None:
    facts = booking_facts(payload["booking_id"])
    if facts is not None:
        _booking_changed(facts, +1)


def _cancelled(payload: dict) -> None:
    facts = booking_facts(payload["booking_id"])
    if facts is not None:
        _booking_changed(facts, -1)


def _failed(payload: dict) -> None:
    booking = Booking.objects.filter(pk=payload["booking_id"]).first()
    if booking is None:
        return
    declined = int(booking.failure_reason == FailureReason.PAYMENT_DECLINED)
    add(
        EventSales,
        {"event": booking.event_id},
        {"bookings_failed": 1, "payments_declined": declined},
        {"currency": booking.currency},
    )


def _checked_in(payload: dict) -> None:
    ticket = (
        Ticket.objects.filter(pk=payload["ticket_id"])
        .values("event_id", "seat__section_id", "price_category_id", "currency")
        .first()
    )
    if ticket is None:
        return
    event_id = ticket["event_id"]
    add(
        EventSales, {"event": event_id}, {"tickets_checked_in": 1}, {"currency": ticket["currency"]}
    )
    add(
        CategorySales,
        {"event": event_id, "price_category": ticket["price_category_id"]},
        {"checked_in": 1},
    )
    if ticket["seat__section_id"] is not None:
        add(
            SectionSales,
            {"event": event_id, "section": ticket["seat__section_id"]},
            {"checked_in": 1},
        )


_APPLY = {
    TOPIC_BOOKING_CONFIRMED: _confirmed,
    TOPIC_BOOKING_CANCELLED: _cancelled,
    TOPIC_BOOKING_FAILED: _failed,
    TOPIC_TICKET_CHECKED_IN: _checked_in,
}


def apply_message(*, message_id: int, topic: str, payload: dict) -> bool:
    """Apply one outbox event to the read tables; False if it was applied before (or is not a
    sales event). Opens its own transaction."""
    apply = _APPLY.get(topic)
    if apply is None:
        return False
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock_shared(%s, %s)", PROJECTION_LOCK)
            cursor.execute(
                f"INSERT INTO {AppliedMessage._meta.db_table} (message_id, topic, applied_at) "  # noqa: S608
                "VALUES (%s, %s, now()) ON CONFLICT DO NOTHING",
                [message_id, topic],
            )
            if cursor.rowcount == 0:
                log.info("outbox message %s (%s) was applied before", message_id, topic)
                return False
        apply(payload)
    return True


class ProjectionFailed(Exception):
    """Some events of a batch could not be applied (the others were)."""


def apply_messages(events: list[dict]) -> int:
    """Apply a relay round's events (``message_id``, ``topic``, ``payload``, ``trace_id``) in
    order, in one transaction with a savepoint each; returns how many were new.

    An event that fails for a reason other than the database being away is rolled back alone
    and the others commit; then ``ProjectionFailed`` names it, so the batch is dead-lettered
    and replaying it applies only what is missing (the others are recorded as applied).
    """
    applied, failed = 0, []
    with transaction.atomic():
        for event in events:
            with traced(event.get("trace_id")):
                try:
                    applied += apply_message(
                        message_id=event["message_id"],
                        topic=event["topic"],
                        payload=event["payload"],
                    )
                except OperationalError:
                    raise  # the database is away: the whole batch is retried
                except Exception:
                    log.exception("outbox message %s not projected", event.get("message_id"))
                    failed.append(event.get("message_id"))
    if failed:
        raise ProjectionFailed(f"outbox messages {failed} not projected")
    return applied
