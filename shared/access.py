"""The one access policy: who may see, change, check in and watch what.

Every door asks these functions: the admin (querysets and object permissions), the buyer
pages, the REST API, the WebSocket feeds and door check-in. The rules:

- A platform admin is an active superuser; admins may do everything.
- "Is staff" only lets a user into the admin; it grants nothing about any event, venue or map.
- An event's organizer (``Event.organizer``) may do everything with that event. Published
  events (not drafts) may be viewed and watched by anyone, signed in or not.
- Venues and seat maps have an owner. The owner (and admins) change them; an empty owner
  marks a shared venue or map that every organizer may use but only admins change.

The functions take plain ids so the hot paths can decide from the event rules cached in
Redis without a database query; ``ticketing.access`` fetches objects and raises.
"""

from __future__ import annotations

from enum import StrEnum

from django.db.models import Q, QuerySet

from shared.enums import EventStatus


class EventAction(StrEnum):
    VIEW = "view"  # the buyer page, the API's event and seats
    WATCH = "watch"  # the live seat feed
    CHANGE = "change"  # the admin, sales actions
    CHECK_IN = "check_in"  # admit tickets at the door
    VIEW_SALES = "view_sales"  # bookings, buyers, payouts


PUBLIC_ACTIONS = frozenset({EventAction.VIEW, EventAction.WATCH})


def is_active_user(user) -> bool:
    return bool(user is not None and user.is_authenticated and user.is_active)


def is_platform_admin(user) -> bool:
    return is_active_user(user) and user.is_superuser


def may_access_event(user, action: EventAction, *, organizer_id: int, status: str) -> bool:
    """Whether ``user`` may do ``action`` on an event with this organizer and status."""
    if action in PUBLIC_ACTIONS and status != EventStatus.DRAFT:
        return True
    if not is_active_user(user):
        return False
    return user.is_superuser or user.pk == organizer_id


def may_change_owned(user, owner_id: int | None) -> bool:
    """Venues and seat maps: their owner and admins; shared ones (no owner) admins only."""
    if not is_active_user(user):
        return False
    return user.is_superuser or (owner_id is not None and owner_id == user.pk)


def may_use_owned(user, owner_id: int | None) -> bool:
    """Whether ``user`` may pick a venue or seat map for an event: own, shared or admin."""
    return is_active_user(user) and (owner_id is None or may_change_owned(user, owner_id))


def owned_visible_to(user, queryset: QuerySet, owner_path: str = "owner") -> QuerySet:
    """The rows of ``queryset`` the user may see and use: own and shared ones (admins: all)."""
    if is_platform_admin(user):
        return queryset
    if not is_active_user(user):
        return queryset.none()
    return queryset.filter(Q(**{owner_path: user}) | Q(**{f"{owner_path}__isnull": True}))


def events_visible_to(user, queryset: QuerySet, organizer_path: str = "organizer") -> QuerySet:
    """Rows belonging to the user's own events (admins: all): bookings, tickets, payments."""
    if is_platform_admin(user):
        return queryset
    if not is_active_user(user):
        return queryset.none()
    return queryset.filter(**{organizer_path: user})
