"""Names on the wire: queues, task names, outbox topics and channel-layer groups.

Everything that crosses a process boundary is named here once, so the publisher and the
consumer cannot disagree.
"""

BOOKINGS_QUEUE = "bookings"
BOOKINGS_DLX = "bookings.dlx"
BOOKINGS_DLQ = "bookings.dlq"
NOTIFICATIONS_QUEUE = "notifications"

PROCESS_BOOKING_TASK = "registration_worker.process_booking"
NOTIFY_BOOKING_TASK = "notifications.handle_booking_event"

# Outbox topics (BookingConfirmed, ...), relayed to the notifications queue after commit.
TOPIC_BOOKING_CONFIRMED = "BookingConfirmed"
TOPIC_BOOKING_FAILED = "BookingFailed"
TOPIC_BOOKING_CANCELLED = "BookingCancelled"
TOPIC_SEATS_RELEASED = "SeatsReleased"


def event_group(event_id: int) -> str:
    """Channel-layer group of everyone watching an event's seat map."""
    return f"event.{event_id}"


def user_group(user_id: int) -> str:
    """Channel-layer group of one buyer's connections."""
    return f"user.{user_id}"
