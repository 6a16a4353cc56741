"""Bench fixtures in the development database: an event with seats and logged-in buyers."""

import time
from datetime import timedelta
from decimal import Decimal

from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY, get_user_model
from django.contrib.sessions.backends.cached_db import SessionStore
from django.utils import timezone

from seatmaps.generator import LayoutParams, SectionSpec
from seatmaps.services import create_procedural_map
from ticketing.models import Event, PriceCategory, Venue
from ticketing.services.event_rules import publish_event_rules


def create_event(seats: int, mode: str = "queued", hold_ttl: int = 600) -> Event:
    """A fresh on-sale event with ``seats`` seats in rows of 50."""
    organizer, _ = get_user_model().objects.get_or_create(
        username="bench-organizer", defaults={"email": "bench-organizer@example.com"}
    )
    venue, _ = Venue.objects.get_or_create(name="Bench Hall", defaults={"city": "Benchville"})
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
    )
    category = PriceCategory.objects.create(event=event, name="Standard", price=Decimal("50.00"))
    category.sections.set(seat_map.sections.all())
    publish_event_rules(event)
    return event


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
