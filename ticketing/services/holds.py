"""Seat holds: the flash-sale hot path. No database query here in the steady state.

Rules come from ``get_event_rules`` (in-process, then Redis); the all-or-nothing decision is
the hold script in ``shared.locks``. PostgreSQL is read only to rebuild what Redis lost.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from django.conf import settings

from registration_worker.selectors import live_seat_ids, live_ticket_count, live_tickets_by_buyer
from registration_worker.services import release_and_announce
from shared import metrics
from shared.enums import EventStatus
from shared.exceptions import (
    BusinessRuleViolation,
    NotFound,
    RateLimited,
    SeatsUnavailable,
    TicketingError,
)
from shared.locks import NO_RATE_LIMIT, Hold, HoldResult, RateLimit, seat_locks
from ticketing.services.event_rules import EventRules, get_event_rules, load_sellable_seats
from ticketing.services.failover import resync_after_failover


@dataclass(frozen=True)
class CreatedHold:
    id: str
    event_id: int
    seats: list[int]
    quantity: int
    expires_at: datetime
    extended: bool = False  # the buyer used the one extension (extend_hold)

    @classmethod
    def from_hold(cls, hold: Hold) -> CreatedHold:
        return cls(
            id=hold.hold_id,
            event_id=hold.event_id,
            seats=list(hold.seat_ids),
            quantity=hold.quantity,
            expires_at=datetime.fromtimestamp(hold.expires_ms / 1000, tz=UTC),
            extended=hold.extended,
        )


def check_can_hold(rules: EventRules, count: int) -> None:
    """Raise BusinessRuleViolation unless the event sells ``count`` tickets now."""
    if rules.status == EventStatus.CANCELLED:
        raise BusinessRuleViolation("This event is cancelled.", code="event_cancelled")
    if not rules.sales_open():
        raise BusinessRuleViolation("Sales are not open for this event.", code="sales_closed")
    if count > rules.max_seats_per_order:
        raise BusinessRuleViolation(
            f"At most {rules.max_seats_per_order} tickets per order.",
            details={"max_seats_per_order": rules.max_seats_per_order},
            code="too_many_seats",
        )


_PERIOD_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def hold_rate_limit() -> RateLimit:
    """The buyers' hold rate per event, from ``THROTTLE_HOLDS`` (e.g. ``60/min``)."""
    rate = settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"].get("holds")
    if not rate:
        return NO_RATE_LIMIT
    requests, _, period = rate.partition("/")
    return RateLimit(int(requests), _PERIOD_SECONDS[period[0]] * 1000)


def _attempt(rules: EventRules, owner: str, seat_ids, quantity, rate=None) -> HoldResult:
    locks = seat_locks()
    ttl_ms = rules.hold_ttl_seconds * 1000
    limit = rules.max_seats_per_buyer
    if rules.is_general_admission:
        return locks.hold_quantity(
            rules.event_id, quantity, rules.capacity, owner, ttl_ms, limit=limit, rate=rate
        )
    return locks.hold_seats(rules.event_id, seat_ids, owner, ttl_ms, limit=limit, rate=rate)


def create_hold(*, user_id: int, event_id: int, seat_ids=None, quantity=None) -> CreatedHold:
    """Hold seats (or a quantity, for general admission) for a buyer, all or nothing.

    Counted by outcome (``ticketing_holds_total``): ``held`` or the error's code.
    """
    try:
        hold = _create_hold(user_id, event_id, seat_ids, quantity)
    except TicketingError as refused:
        metrics.HOLDS.labels(refused.code).inc()
        raise
    metrics.HOLDS.labels("held").inc()
    return hold


def _create_hold(user_id: int, event_id: int, seat_ids, quantity) -> CreatedHold:
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

    # The rate limit is counted by the first attempt only, not again by the repairs' retries.
    resync_after_failover(event_id)
    result = _attempt(rules, str(user_id), seat_ids, quantity, hold_rate_limit())
    if resync_after_failover(event_id) and result.ok:
        result = _recheck_after_resync(rules, result, seat_ids)
    for _ in range(4):  # each repair fixes one missing set; then the hold runs for real
        if result.status not in ("rebuild_sold", "load_seats", "rebuild_buyers"):
            break
        _repair(rules, result.status)
        result = _attempt(rules, str(user_id), seat_ids, quantity)

    if result.status == "rate_limited":
        raise RateLimited(
            "Too many hold attempts; wait a moment.", retry_after=-(-result.retry_ms // 1000)
        )
    if result.status == "unknown":
        raise BusinessRuleViolation(
            "Some seats do not belong to this event or are not on sale.",
            details={"seats": [int(s) for s in result.seats]},
            code="unknown_seats",
        )
    if result.status in ("taken", "limit") and not rules.is_general_admission:
        # A retry whose first answer was lost (a web worker killed mid-request, a timeout):
        # the buyer already holds exactly these seats, so that hold is the answer.
        same = _live_hold_on(rules.event_id, user_id, seat_ids)
        if same is not None:
            return CreatedHold.from_hold(same)
    if result.status == "taken":
        raise SeatsUnavailable(
            "Some seats were just taken by someone else.",
            details={"seats": [int(s) for s in result.seats]},
        )
    if result.status == "limit":
        raise BusinessRuleViolation(
            f"You may hold and book at most {rules.max_seats_per_buyer} tickets for this event.",
            details={
                "limit": rules.max_seats_per_buyer,
                "held": result.held,
                "booked": result.booked,
            },
            code="buyer_limit_reached",
        )
    if result.status == "cooldown":
        retry_after = -(-result.retry_ms // 1000)  # whole seconds, rounded up
        raise BusinessRuleViolation(
            "You released these tickets a moment ago; others get a chance at them first.",
            details={"seats": [int(s) for s in result.seats], "retry_after": retry_after},
            code="seat_cooldown",
        )
    if result.status == "sold_out":
        raise SeatsUnavailable(
            f"Only {result.remaining} tickets are left.",
            details={"available": result.remaining},
            code="sold_out",
        )
    if not result.ok:
        raise RuntimeError(f"unexpected hold script answer {result.status!r}")

    # The hold script itself logged the seats as held for the watchers (shared.seat_changes).
    return CreatedHold(
        id=result.hold_id,
        event_id=event_id,
        seats=seat_ids,
        quantity=quantity,
        expires_at=datetime.fromtimestamp(result.expires_ms / 1000, tz=UTC),
    )


def _live_hold_on(event_id: int, user_id: int, seat_ids: list[int]) -> Hold | None:
    """The buyer's live hold on exactly ``seat_ids``, if any (read only on a refusal)."""
    wanted = set(seat_ids)
    for hold in seat_locks().live_holds(event_id, str(user_id)):
        if set(hold.seat_ids) == wanted:
            return hold
    return None


def _recheck_after_resync(rules: EventRules, result: HoldResult, seat_ids) -> HoldResult:
    """The hold ran on a promoted replica before its sold set was topped up: give it back if
    it took a seat PostgreSQL has sold."""
    _, sold, _ = seat_locks().seat_statuses(rules.event_id, seat_ids)
    taken = [s for s in seat_ids if s in sold]
    if not taken:
        return result
    hold = seat_locks().get_hold(result.hold_id)
    if hold is not None:
        release_and_announce(hold=hold)
    return HoldResult("taken", seats=tuple(str(s) for s in taken))


def _repair(rules: EventRules, what: str) -> None:
    """Rebuild from PostgreSQL what Redis lost (restart, flush)."""
    locks = seat_locks()
    if what == "load_seats":
        load_sellable_seats(rules.event_id)
    elif what == "rebuild_buyers":
        locks.rebuild_buyers(rules.event_id, live_tickets_by_buyer(rules.event_id))
    elif rules.is_general_admission:
        locks.rebuild_ga_sold(rules.event_id, live_ticket_count(rules.event_id))
    else:
        locks.rebuild_sold(rules.event_id, live_seat_ids(rules.event_id))


def access_hold(*, user_id: int, hold_id: str) -> Hold:
    """The buyer's own live hold; another buyer's hold is reported as not found."""
    hold = seat_locks().get_hold(hold_id)
    if hold is None or hold.owner != str(user_id):
        raise NotFound(
            "No active hold with this id is yours (it may have expired).", code="hold_not_found"
        )
    return hold


def release_hold(*, user_id: int, hold_id: str) -> None:
    """The buyer lets a hold go; they may not hold the same seats again during the cool-down."""
    hold = access_hold(user_id=user_id, hold_id=hold_id)
    cooldown_ms = get_event_rules(hold.event_id).hold_cooldown_seconds * 1000
    if not release_and_announce(hold=hold, owner=str(user_id), cooldown_ms=cooldown_ms):
        raise NotFound("This hold has already ended.", code="hold_not_found")


def extend_hold(*, user_id: int, hold_id: str) -> CreatedHold:
    """Give the buyer's own hold the event's hold time once more (WCAG 2.2.1: a time limit the
    user can extend); a second request is 422 ``hold_already_extended``."""
    hold = access_hold(user_id=user_id, hold_id=hold_id)
    extra_ms = get_event_rules(hold.event_id).hold_ttl_seconds * 1000
    status, expires_ms = seat_locks().extend(hold, str(user_id), extra_ms)
    if status == "already":
        expires_at = datetime.fromtimestamp(expires_ms / 1000, tz=UTC)
        raise BusinessRuleViolation(
            "This hold was already extended once.",
            details={"expires_at": expires_at.isoformat()},
            code="hold_already_extended",
        )
    if status != "ok":
        raise NotFound("This hold has already ended.", code="hold_not_found")
    return CreatedHold.from_hold(
        Hold(
            hold_id=hold.hold_id,
            event_id=hold.event_id,
            owner=hold.owner,
            seat_ids=hold.seat_ids,
            quantity=hold.quantity,
            expires_ms=expires_ms,
            extended=True,
        )
    )
