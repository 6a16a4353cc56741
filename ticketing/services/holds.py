"""Seat holds: the flash-sale hot path. No database query here in the steady state.

Rules come from ``get_event_rules`` (in-process, then Redis); the all-or-nothing decision is
the hold script in ``shared.locks``. PostgreSQL is read only to rebuild what Redis lost.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from registration_worker.services import live_seat_ids, live_ticket_count, release_and_announce
from shared import realtime
from shared.exceptions import BusinessRuleViolation, NotFound, SeatsUnavailable
from shared.locks import Hold, HoldResult, seat_locks
from ticketing.services.event_rules import EventRules, get_event_rules, load_sellable_seats


@dataclass(frozen=True)
class CreatedHold:
    id: str
    event_id: int
    seats: list[int]
    quantity: int
    expires_at: datetime


def check_can_hold(rules: EventRules, count: int) -> None:
    """Raise BusinessRuleViolation unless the event sells ``count`` tickets now."""
    if rules.status == "cancelled":
        raise BusinessRuleViolation("This event is cancelled.", code="event_cancelled")
    if not rules.sales_open():
        raise BusinessRuleViolation("Sales are not open for this event.", code="sales_closed")
    if count > rules.max_seats_per_order:
        raise BusinessRuleViolation(
            f"At most {rules.max_seats_per_order} tickets per order.",
            details={"max_seats_per_order": rules.max_seats_per_order},
            code="too_many_seats",
        )


def _attempt(rules: EventRules, owner: str, seat_ids, quantity) -> HoldResult:
    locks = seat_locks()
    ttl_ms = rules.hold_ttl_seconds * 1000
    if rules.is_general_admission:
        return locks.hold_quantity(rules.event_id, quantity, rules.capacity, owner, ttl_ms)
    return locks.hold_seats(rules.event_id, seat_ids, owner, ttl_ms)


def create_hold(user_id: int, event_id: int, seat_ids=None, quantity=None) -> CreatedHold:
    """Hold seats (or a quantity, for general admission) for a buyer, all or nothing."""
    rules = get_event_rules(event_id)
    if rules.is_general_admission:
        if not quantity:
            raise BusinessRuleViolation(
                "This event has no seat map: ask for a quantity.", code="quantity_required"
            )
        seat_ids = []
    else:
        if not seat_ids:
            raise BusinessRuleViolation(
                "This event has a seat map: choose seats.", code="seats_required"
            )
        seat_ids = list(dict.fromkeys(seat_ids))  # a seat asked twice is one seat
        quantity = len(seat_ids)
    check_can_hold(rules, quantity)

    result = _attempt(rules, str(user_id), seat_ids, quantity)
    for _ in range(3):  # each repair fixes one missing set; then the hold runs for real
        if result.status not in ("rebuild_sold", "load_seats"):
            break
        _repair(rules, result.status)
        result = _attempt(rules, str(user_id), seat_ids, quantity)

    if result.status == "unknown":
        raise BusinessRuleViolation(
            "Some seats do not belong to this event or are not on sale.",
            details={"seats": [int(s) for s in result.seats]},
            code="unknown_seats",
        )
    if result.status == "taken":
        raise SeatsUnavailable(
            "Some seats were just taken by someone else.",
            details={"seats": [int(s) for s in result.seats]},
        )
    if result.status == "sold_out":
        raise SeatsUnavailable(
            f"Only {result.remaining} tickets are left.",
            details={"available": result.remaining},
            code="sold_out",
        )
    if not result.ok:
        raise RuntimeError(f"unexpected hold script answer {result.status!r}")

    realtime.publish_seat_changes(event_id, seat_ids, "held")
    return CreatedHold(
        id=result.hold_id,
        event_id=event_id,
        seats=seat_ids,
        quantity=quantity,
        expires_at=datetime.fromtimestamp(result.expires_ms / 1000, tz=UTC),
    )


def _repair(rules: EventRules, what: str) -> None:
    """Rebuild from PostgreSQL what Redis lost (restart, flush)."""
    locks = seat_locks()
    if what == "load_seats":
        load_sellable_seats(rules.event_id)
    elif rules.is_general_admission:
        locks.rebuild_ga_sold(rules.event_id, live_ticket_count(rules.event_id))
    else:
        locks.rebuild_sold(rules.event_id, live_seat_ids(rules.event_id))


def access_hold(user_id: int, hold_id: str) -> Hold:
    """The buyer's own live hold; another buyer's hold is reported as not found."""
    hold = seat_locks().get_hold(hold_id)
    if hold is None or hold.owner != str(user_id):
        raise NotFound(
            "No active hold with this id is yours (it may have expired).", code="hold_not_found"
        )
    return hold


def release_hold(user_id: int, hold_id: str) -> None:
    hold = access_hold(user_id, hold_id)
    if not release_and_announce(hold, owner=str(user_id)):
        raise NotFound("This hold has already ended.", code="hold_not_found")
