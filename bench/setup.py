"""Bench fixtures in the development database: events with seats, logged-in buyers, and the
clean-up that removes every bench event again (they must not stay in the public catalog)."""

import time
from datetime import timedelta
from decimal import Decimal

from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY, get_user_model
from django.contrib.sessions.backends.cached_db import SessionStore
from django.utils import timezone

from seatmaps.generator import LayoutParams, SectionSpec
from seatmaps.models import SeatMap, Venue
from seatmaps.services import create_procedural_map
from shared.locks import seat_locks
from ticketing.models import Event, PriceCategory
from ticketing.services.event_rules import publish_event_rules

VENUE = ("Bench Hall", "Benchville")
# Ids of the events this process created: the bench removes them all at the end.
CREATED: list[int] = []
# A bench event older than this is a leftover of an interrupted run (its slug carries the time).
STALE_NS = 30 * 60 * 10**9


def create_event(seats: int, mode: str = "queued", hold_ttl: int = 600) -> Event:
    """A fresh on-sale event with ``seats`` seats in rows of 50.

    ``hold_ttl`` may be below the model's 10 s minimum (objects.create does not validate): the
    saturation phases cycle through the seats and need them free again quickly.
    """
    organizer, _ = get_user_model().objects.get_or_create(
        username="bench-organizer", defaults={"email": "bench-organizer@example.com"}
    )
    venue, _ = Venue.objects.get_or_create(name=VENUE[0], defaults={"city": VENUE[1]})
    rows = max(seats // 50, 1)
    params = LayoutParams(
        sections=(SectionSpec(code="main", name="Main", rows=rows, seats_per_row=50),)
    )
    seat_map = create_procedural_map(venue, f"bench-{time.time_ns()}", params)
    now = timezone.now()
    event = Event.objects.create(
        organizer=organizer,
        title=f"Bench {mode} {seats}",
        slug=f"bench-{time.time_ns()}",
        venue=venue,
        seat_map=seat_map,
        starts_at=now + timedelta(days=1),
        ends_at=now + timedelta(days=1, hours=2),
        status=Event.Status.ON_SALE,
        registration_mode=mode,
        hold_ttl_seconds=hold_ttl,
        max_seats_per_order=10,
        # Bench buyers re-hold all the time: the limit is checked but never refuses.
        max_seats_per_buyer=100_000,
    )
    CREATED.append(event.pk)
    category = PriceCategory.objects.create(event=event, name="Standard", price=Decimal("50.00"))
    category.sections.set(seat_map.sections.all())
    publish_event_rules(event)
    seat_locks().rebuild_sold(event.pk, [])
    return event


def seat_ids(event: Event) -> list[int]:
    return list(event.seat_map.seats.order_by("id").values_list("id", flat=True))


def remove_events(event_ids) -> int:
    """Delete bench events with their bookings, tickets, payments and procedural seat maps."""
    from payments.models import Payment
    from registration_worker.models import Booking

    removed = 0
    for event in Event.objects.filter(pk__in=list(event_ids)).select_related("seat_map"):
        Payment.objects.filter(booking__event=event).delete()
        Booking.objects.filter(event=event).delete()
        seat_map = event.seat_map
        event.delete()
        # Procedural maps are made per event; imported ones (the stadium) are kept for reuse.
        if seat_map and seat_map.name.startswith("bench-") and not seat_map.events.exists():
            seat_map.delete()
        removed += 1
    return removed


def remove_event_keys(event_id: int) -> None:
    redis = seat_locks().redis
    keys = list(redis.scan_iter(match=f"tk:{{evt:{event_id}}}:*", count=1000))
    for i in range(0, len(keys), 1000):
        redis.delete(*keys[i : i + 1000])


def clean_up(extra_event_ids=()) -> int:
    """Remove this run's events, leftovers of interrupted runs, and the bench venue if empty."""
    ids = set(CREATED) | set(extra_event_ids)
    cutoff = time.time_ns() - STALE_NS
    for pk, slug in Event.objects.filter(slug__regex=r"^bench-[0-9]+$").values_list("pk", "slug"):
        if int(slug.removeprefix("bench-")) < cutoff:
            ids.add(pk)
    removed = 0
    for pk in sorted(ids):
        removed += remove_events([pk])
        remove_event_keys(pk)
    CREATED.clear()
    venue = Venue.objects.filter(name=VENUE[0], city=VENUE[1]).first()
    if venue is not None and not venue.events.exists():
        SeatMap.objects.filter(venue=venue, events__isnull=True).delete()
        if not SeatMap.objects.filter(venue=venue).exists():
            venue.delete()
    return removed


def buyer_sessions(count: int) -> list[str]:
    """Session keys of ``count`` logged-in bench buyers (created once, reused)."""
    users = get_user_model()
    existing = {u.username: u for u in users.objects.filter(username__startswith="bench-buyer-")}
    missing = [
        users(username=f"bench-buyer-{i}", email=f"bench-buyer-{i}@example.com")
        for i in range(count)
        if f"bench-buyer-{i}" not in existing
    ]
    users.objects.bulk_create(missing)
    buyers = users.objects.filter(username__startswith="bench-buyer-").order_by("id")[:count]
    keys = []
    for user in buyers:
        session = SessionStore()
        session[SESSION_KEY] = str(user.pk)
        session[BACKEND_SESSION_KEY] = settings.AUTHENTICATION_BACKENDS[-1]
        session[HASH_SESSION_KEY] = user.get_session_auth_hash()
        session.save()
        keys.append(session.session_key)
    return keys
