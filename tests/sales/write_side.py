"""The sales figures counted straight from the booking side in plain SQL, for comparison with
the read tables. Written independently of ``sales.rebuild`` on purpose."""

from django.db import connection

from sales.models import CategorySales, EventSales, HourlySales, SectionSales

EVENT_SQL = """
SELECT b.event_id,
  COUNT(*) FILTER (WHERE b.confirmed_at IS NOT NULL),
  COUNT(*) FILTER (WHERE b.confirmed_at IS NOT NULL AND b.status = 'cancelled'),
  COUNT(*) FILTER (WHERE b.status = 'failed'),
  COUNT(*) FILTER (WHERE b.status = 'failed' AND b.failure_reason = 'payment_declined'),
  COALESCE(SUM(b.total) FILTER (WHERE b.confirmed_at IS NOT NULL), 0),
  COALESCE(SUM(b.total) FILTER (WHERE b.confirmed_at IS NOT NULL AND b.status = 'cancelled'), 0),
  COALESCE(SUM(p.commission) FILTER (
    WHERE b.status = 'confirmed' AND p.status IN ('approved', 'refunded')), 0),
  (SELECT COUNT(*) FROM registration_worker_ticket t JOIN registration_worker_booking tb
     ON tb.id = t.booking_id WHERE t.event_id = b.event_id AND tb.status = 'confirmed'),
  (SELECT COUNT(*) FROM registration_worker_ticket t
     WHERE t.event_id = b.event_id AND t.checked_in_at IS NOT NULL)
FROM registration_worker_booking b
LEFT JOIN payments_payment p ON p.booking_id = b.id
WHERE b.event_id = ANY(%s)
GROUP BY b.event_id
"""

SECTION_SQL = """
SELECT t.event_id, s.section_id, COUNT(*) FILTER (WHERE b.status = 'confirmed'),
  COUNT(*) FILTER (WHERE t.checked_in_at IS NOT NULL)
FROM registration_worker_ticket t
JOIN registration_worker_booking b ON b.id = t.booking_id
JOIN seatmaps_seat s ON s.id = t.seat_id
WHERE t.event_id = ANY(%s) GROUP BY t.event_id, s.section_id
"""

CATEGORY_SQL = """
SELECT t.event_id, t.price_category_id, COUNT(*) FILTER (WHERE b.status = 'confirmed'),
  COUNT(*) FILTER (WHERE t.checked_in_at IS NOT NULL),
  COALESCE(SUM(t.price) FILTER (WHERE b.status = 'confirmed'), 0)
FROM registration_worker_ticket t
JOIN registration_worker_booking b ON b.id = t.booking_id
WHERE t.event_id = ANY(%s) GROUP BY t.event_id, t.price_category_id
"""

HOURLY_SQL = """
SELECT event_id, hour, SUM(sold), SUM(cancelled), SUM(gross), SUM(refunds) FROM (
  SELECT b.event_id, date_trunc('hour', b.confirmed_at AT TIME ZONE 'UTC') AS hour,
    (SELECT COUNT(*) FROM registration_worker_ticket t WHERE t.booking_id = b.id) AS sold,
    0 AS cancelled, b.total AS gross, 0 AS refunds
  FROM registration_worker_booking b WHERE b.confirmed_at IS NOT NULL
  UNION ALL
  SELECT b.event_id, date_trunc('hour', b.cancelled_at AT TIME ZONE 'UTC'), 0,
    (SELECT COUNT(*) FROM registration_worker_ticket t WHERE t.booking_id = b.id), 0, b.total
  FROM registration_worker_booking b
  WHERE b.confirmed_at IS NOT NULL AND b.status = 'cancelled'
) x WHERE event_id = ANY(%s) GROUP BY event_id, hour
"""


def _rows(sql, event_ids):
    with connection.cursor() as cursor:
        cursor.execute(sql, [list(event_ids)])
        return cursor.fetchall()


def _nonzero(rows: dict) -> dict:
    return {key: value for key, value in rows.items() if any(value)}


def counted_from_bookings(event_ids) -> dict:
    """Every figure of these events, from bookings, tickets and payments."""
    return {
        "events": _nonzero({r[0]: tuple(r[1:]) for r in _rows(EVENT_SQL, event_ids)}),
        "sections": _nonzero({(r[0], r[1]): tuple(r[2:]) for r in _rows(SECTION_SQL, event_ids)}),
        "categories": _nonzero(
            {(r[0], r[1]): tuple(r[2:]) for r in _rows(CATEGORY_SQL, event_ids)}
        ),
        "hourly": _nonzero(
            {(r[0], r[1].replace(tzinfo=None)): tuple(r[2:]) for r in _rows(HOURLY_SQL, event_ids)}
        ),
    }


def read_model(event_ids) -> dict:
    """The same figures as the read tables hold them."""
    events = {
        e.event_id: (
            e.bookings_confirmed,
            e.bookings_cancelled,
            e.bookings_failed,
            e.payments_declined,
            e.gross,
            e.refunds,
            e.commission,
            e.tickets_sold,
            e.tickets_checked_in,
        )
        for e in EventSales.objects.filter(event_id__in=event_ids)
    }
    sections = {
        (s.event_id, s.section_id): (s.sold, s.checked_in)
        for s in SectionSales.objects.filter(event_id__in=event_ids)
    }
    categories = {
        (c.event_id, c.price_category_id): (c.sold, c.checked_in, c.value)
        for c in CategorySales.objects.filter(event_id__in=event_ids)
    }
    hourly = {
        (h.event_id, h.hour.replace(tzinfo=None)): (
            h.tickets_sold,
            h.tickets_cancelled,
            h.gross,
            h.refunds,
        )
        for h in HourlySales.objects.filter(event_id__in=event_ids)
    }
    return {
        "events": _nonzero(events),
        "sections": _nonzero(sections),
        "categories": _nonzero(categories),
        "hourly": _nonzero(hourly),
    }
