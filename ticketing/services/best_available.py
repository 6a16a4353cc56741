"""Best available: ``n`` adjacent free seats in one row, nearest the centre of the best section.

The search reads the cached seat map (``seat_pricing``) and the live statuses
(``seat_statuses``, one Redis round trip); the chosen block is then held with the normal
all-or-nothing hold (``create_hold``), so two buyers can never get the same seat. A buyer who
loses the race for a block between the read and the hold gets the next best block, a few times.

Rules, in order:

- only seats of the requested category (any category when none is given), in sections ordered
  by ``Section.position`` (lower is better, then the section code);
- a block is ``n`` consecutive seats of one row of one section, consecutive along the row (by x,
  or by y for a row drawn more up-down than left-right, as at the ends of a stadium), with no gap
  wider than ``AISLE_FACTOR`` times the section's typical seat spacing (an aisle splits a row);
- within a section the block whose middle is nearest the section's centre wins: horizontally
  the middle of the block's row, vertically the middle of the section's rows.
"""

from __future__ import annotations

import itertools
import math
import statistics
from collections import defaultdict
from dataclasses import dataclass

from seatmaps.models import Section
from shared.exceptions import BusinessRuleViolation, SeatsUnavailable
from shared.local_cache import LocalCache
from ticketing.models import Event
from ticketing.selectors import SeatPricing, seat_pricing, seat_statuses
from ticketing.services.event_rules import get_event_rules
from ticketing.services.holds import CreatedHold, check_can_hold, create_hold

MAX_ATTEMPTS = 4
AISLE_FACTOR = 1.6


@dataclass(frozen=True)
class Row:
    """One row of one section, its seats in order along the row."""

    section_rank: int
    category: int
    seats: tuple[int, ...]
    points: tuple[tuple[float, float], ...]
    # ``i`` in ``breaks``: an aisle (or a missing seat) between seats[i] and seats[i + 1].
    breaks: frozenset[int]
    # The point a block should be nearest to: the row's middle, at the section's middle row.
    target: tuple[float, float]


@dataclass(frozen=True)
class Block:
    seats: tuple[int, ...]
    section_rank: int
    distance: float


_rows_cache: LocalCache[list[Row]] = LocalCache()


def event_rows(event_id: int) -> list[Row]:
    """The event's rows of priced seats, cached per version of the event's rules and revision
    of its map (section positions are edited in the admin)."""
    version = get_event_rules(event_id).version
    seat_map_id, revision = Event.objects.filter(pk=event_id).values_list(
        "seat_map_id", "seat_map__revision"
    ).first() or (None, None)
    return _rows_cache.get_or_build(
        event_id,
        (version, revision),
        lambda: build_rows(seat_pricing(event_id), _section_ranks(seat_map_id)),
    )


def _section_ranks(seat_map_id: int | None) -> dict[str, int]:
    codes = Section.objects.filter(seat_map_id=seat_map_id).order_by("position", "code")
    return {code: rank for rank, code in enumerate(codes.values_list("code", flat=True))}


def build_rows(pricing: SeatPricing, section_ranks: dict[str, int]) -> list[Row]:
    """Group the priced seats into rows and find the aisles (pure; see the module's rules)."""
    by_row: dict[tuple[str, str], list[dict]] = defaultdict(list)
    for seat in pricing.seats:
        if seat["category"] is not None:
            by_row[(seat["section"], seat["row"])].append(seat)
    by_section: dict[str, list[list[dict]]] = defaultdict(list)
    for (section, _row), seats in by_row.items():
        by_section[section].append(_along_row(seats))
    rows: list[Row] = []
    for section, section_rows in by_section.items():
        gaps = [
            math.dist((a["x"], a["y"]), (b["x"], b["y"]))
            for seats in section_rows
            for a, b in itertools.pairwise(seats)
        ]
        spacing = statistics.median(gaps) if gaps else 0.0
        ys = [s["y"] for seats in section_rows for s in seats]
        middle_y = (min(ys) + max(ys)) / 2
        rank = section_ranks.get(section, len(section_ranks))
        for seats in section_rows:
            points = tuple((s["x"], s["y"]) for s in seats)
            breaks = frozenset(
                i
                for i in range(len(points) - 1)
                if math.dist(points[i], points[i + 1]) > AISLE_FACTOR * spacing
            )
            xs = [p[0] for p in points]
            rows.append(
                Row(
                    section_rank=rank,
                    category=seats[0]["category"],
                    seats=tuple(s["id"] for s in seats),
                    points=points,
                    breaks=breaks,
                    target=((min(xs) + max(xs)) / 2, middle_y),
                )
            )
    return rows


def _along_row(seats: list[dict]) -> list[dict]:
    """A row's seats in order along it: by x, or by y for a row that runs more up-down."""
    xs = [s["x"] for s in seats]
    ys = [s["y"] for s in seats]
    if max(xs) - min(xs) >= max(ys) - min(ys):
        return sorted(seats, key=lambda s: (s["x"], s["y"]))
    return sorted(seats, key=lambda s: (s["y"], s["x"]))


def find_blocks(
    rows: list[Row], quantity: int, unavailable: set[int], category: int | None = None
) -> list[Block]:
    """Every block of ``quantity`` free adjacent seats, best first (pure)."""
    blocks: list[Block] = []
    for row in rows:
        if category is not None and row.category != category:
            continue
        run = 0  # free adjacent seats ending at index i
        for i, seat in enumerate(row.seats):
            if seat in unavailable:
                run = 0
                continue
            run = 1 if run == 0 or (i - 1) in row.breaks else run + 1
            if run >= quantity:
                first = i - quantity + 1
                a, b = row.points[first], row.points[i]
                middle = ((a[0] + b[0]) / 2, (a[1] + b[1]) / 2)
                blocks.append(
                    Block(
                        seats=row.seats[first : i + 1],
                        section_rank=row.section_rank,
                        distance=math.dist(middle, row.target),
                    )
                )
    blocks.sort(key=lambda b: (b.section_rank, round(b.distance, 3), b.seats))
    return blocks


def hold_best_available(
    *, user_id: int, event_id: int, quantity: int, category: int | None = None
) -> CreatedHold:
    """Hold the best block of ``quantity`` adjacent seats for a buyer.

    Raises SeatsUnavailable (409, ``no_adjacent_seats``) when no such block is free, and
    SeatsUnavailable (409, ``seats_unavailable``) when every attempt was lost to other buyers.
    """
    rules = get_event_rules(event_id)
    if rules.is_general_admission:
        # No seats to choose: n tickets of the event are the best available.
        return create_hold(user_id=user_id, event_id=event_id, quantity=quantity)
    check_can_hold(rules, quantity)
    pricing = seat_pricing(event_id)
    if category is not None and category not in pricing.categories:
        raise BusinessRuleViolation(
            "This event has no such price category.",
            details={"category": category},
            code="unknown_category",
        )
    statuses = seat_statuses(event_id)
    unavailable = set(statuses["held"]) | set(statuses["sold"])
    blocks = find_blocks(event_rows(event_id), quantity, unavailable, category)
    attempts = 0
    for block in blocks:
        if unavailable.intersection(block.seats):
            continue  # overlaps a seat lost in an earlier attempt
        attempts += 1
        try:
            return create_hold(user_id=user_id, event_id=event_id, seat_ids=list(block.seats))
        except SeatsUnavailable as exc:
            unavailable.update((exc.details or {}).get("seats", ()))
        if attempts >= MAX_ATTEMPTS:
            break
    if attempts:
        raise SeatsUnavailable(
            "Other buyers took the best seats while we tried to hold them; please try again.",
            details={"quantity": quantity, "category": category},
        )
    raise SeatsUnavailable(
        f"There are no {quantity} adjacent seats available"
        + (" in this category." if category is not None else "."),
        details={"quantity": quantity, "category": category},
        code="no_adjacent_seats",
    )
