"""Names on the wire: queues, task names, outbox topics and channel-layer groups.

Everything that crosses a process boundary is named here once, so the publisher and the
consumer cannot disagree.
"""

BOOKINGS_QUEUE = "bookings"
BOOKINGS_DLX = "bookings.dlx"
BOOKINGS_DLQ = "bookings.dlq"
NOTIFICATIONS_QUEUE = "notifications"
NOTIFICATIONS_DLX = "notifications.dlx"
NOTIFICATIONS_DLQ = "notifications.dlq"
PERIODIC_QUEUE = "periodic"  # beat's ticks, consumed by their own worker
PAYMENTS_QUEUE = "payments"
PAYMENTS_DLX = "payments.dlx"
PAYMENTS_DLQ = "payments.dlq"
SALES_QUEUE = "sales"
SALES_DLX = "sales.dlx"
SALES_DLQ = "sales.dlq"

PROCESS_BOOKING_TASK = "registration_worker.process_booking"
NOTIFY_BOOKING_TASK = "notifications.handle_booking_event"
CHARGE_BOOKING_TASK = "payments.charge_booking"
PROJECT_SALES_TASK = "sales.project_event"
# The relay sends a round's sales events as one task (kwargs ``events``: a list of the single
# task's kwargs, each with its row's ``trace_id``): one message and one transaction per round.
PROJECT_SALES_BATCH_TASK = "sales.project_events"

# Outbox topics (BookingConfirmed, ...), relayed to the notifications queue after commit.
TOPIC_BOOKING_CONFIRMED = "BookingConfirmed"
TOPIC_BOOKING_FAILED = "BookingFailed"
TOPIC_BOOKING_CANCELLED = "BookingCancelled"
TOPIC_SEATS_RELEASED = "SeatsReleased"
# A ticket admitted at the door; only the sales read model listens (no email, no push).
TOPIC_TICKET_CHECKED_IN = "TicketCheckedIn"
# What the sales read model (the ``sales`` queue) is sent besides the notifications queue.
SALES_TOPICS = frozenset(
    {
        TOPIC_BOOKING_CONFIRMED,
        TOPIC_BOOKING_FAILED,
        TOPIC_BOOKING_CANCELLED,
        TOPIC_TICKET_CHECKED_IN,
    }
)
# About an account, not a booking: payload ``{"user_id"}``; the notifier sends the welcome.
TOPIC_USER_REGISTERED = "UserRegistered"
# A command for another worker rather than an event: the relay sends the row's ``command`` to
# the task and queue named here instead of the notifications queue.
TOPIC_CHARGE_BOOKING = "ChargeBooking"
TOPIC_PROCESS_BOOKING = "ProcessBooking"  # a queued registration, for the booking worker
COMMAND_ROUTES = {
    TOPIC_CHARGE_BOOKING: (CHARGE_BOOKING_TASK, PAYMENTS_QUEUE),
    TOPIC_PROCESS_BOOKING: (PROCESS_BOOKING_TASK, BOOKINGS_QUEUE),
}


def event_group(event_id: int) -> str:
    """Channel-layer group of everyone watching an event's seat map."""
    return f"event.{event_id}"


def user_group(user_id: int) -> str:
    """Channel-layer group of one buyer's connections."""
    return f"user.{user_id}"
