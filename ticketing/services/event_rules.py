"""The event's sales rules as the hold path sees them, without touching the database.

``publish_event_rules`` writes the rules and the ids of the seats on sale to Redis whenever the
organizer changes an event (admin save, admin actions, demo loader). Each process keeps what it
read for ``EVENT_RULES_CACHE_SECONDS``; a miss in Redis (flushed, restarted) reloads from
PostgreSQL once and publishes again.
"""

from __future__ import annotations

import json
import secrets
import time
from dataclasses import asdict, dataclass, fields

from django.conf import settings
from django.utils import timezone

from seatmaps.models import Seat
from shared.enums import EventStatus
from shared.exceptions import NotFound
from shared.local_cache import LocalCache
from shared.locks import rules_key, seat_locks
from ticketing.models import Event


@dataclass(frozen=True)
class EventRules:
    event_id: int
    organizer_id: int
    status: str
    registration_mode: str
    sales_start: float | None  # epoch seconds
    sales_end: float | None
    hold_ttl_seconds: int
    max_seats_per_order: int
    capacity: int | None  # general admission only
    currency: str
    version: str
    requires_payment: bool = False
    # Fair shares, enforced by the hold script: 0 means no per-buyer limit / no cool-down.
    max_seats_per_buyer: int = 0
    hold_cooldown_seconds: int = 0

    @property
    def is_general_admission(self) -> bool:
        return self.capacity is not None

    def sales_open(self, now: float | None = None) -> bool:
        now = time.time() if now is None else now
        return (
            self.status == EventStatus.ON_SALE
            and (self.sales_start is None or self.sales_start <= now)
            and (self.sales_end is None or now < self.sales_end)
        )


_FIELDS = {f.name for f in fields(EventRules)}
_rules_cache: LocalCache[EventRules] = LocalCache(ttl=lambda: settings.EVENT_RULES_CACHE_SECONDS)


def _rules_from_event(event) -> EventRules:
    categories = list(event.price_categories.all())
    return EventRules(
        event_id=event.pk,
        organizer_id=event.organizer_id,
        status=event.status,
        registration_mode=event.registration_mode,
        sales_start=event.sales_start.timestamp() if event.sales_start else None,
        sales_end=event.sales_end.timestamp() if event.sales_end else None,
        hold_ttl_seconds=event.hold_ttl_seconds,
        max_seats_per_order=event.max_seats_per_order,
        capacity=event.capacity if event.seat_map_id is None else None,
        currency=categories[0].currency if categories else "EUR",
        version=f"{int(timezone.now().timestamp())}-{secrets.token_hex(4)}",
        requires_payment=event.requires_payment,
        max_seats_per_buyer=event.max_seats_per_buyer,
        hold_cooldown_seconds=event.hold_cooldown_seconds,
    )


def sellable_seat_ids(event: Event) -> list[int]:
    """The seats of the event's map that a price category sells."""
    return list(
        Seat.objects.filter(
            seat_map_id=event.seat_map_id, section__price_categories__event=event
        ).values_list("pk", flat=True)
    )


def publish_event_rules(event) -> EventRules:
    """Write an event's rules and sellable seat ids to Redis; call after every change."""
    rules = _rules_from_event(event)
    locks = seat_locks()
    if not rules.is_general_admission:
        locks.load_seats(event.pk, sellable_seat_ids(event))
    locks.redis.set(rules_key(event.pk), json.dumps(asdict(rules)))
    _rules_cache.discard(event.pk)
    return rules


def load_sellable_seats(event_id: int) -> None:
    event = Event.objects.filter(pk=event_id).first()
    if event is not None:
        seat_locks().load_seats(event_id, sellable_seat_ids(event))


def get_event_rules(event_id: int) -> EventRules:
    """The cached rules of an event; raises NotFound for an unknown event."""
    cached = _rules_cache.get(event_id)
    if cached is not None:
        return cached
    raw = seat_locks().redis.get(rules_key(event_id))
    data = json.loads(raw) if raw is not None else None
    if data is not None and set(data) == _FIELDS:
        rules = EventRules(**data)
    else:
        # Missing, or written by a process with another version of EventRules: rebuild.
        event = Event.objects.filter(pk=event_id).first()
        if event is None:
            raise NotFound("There is no such event.", code="event_not_found")
        rules = publish_event_rules(event)
    return _rules_cache.set(event_id, rules)
