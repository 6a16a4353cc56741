"""Fetching events together with the permission check of ``shared.access``.

``access_event`` is the only way a door outside the admin gets an event for a user: a draft the
user may not see is "not found" (its existence is not revealed); a visible event the user may
not act on is "permission denied".
"""

from __future__ import annotations

from shared.access import EventAction, may_access_event
from shared.exceptions import NotFound, PermissionDenied
from ticketing.models import Event
from ticketing.services.event_rules import EventRules, get_event_rules


def access_event(user, event_id: int, action: EventAction, queryset=None) -> Event:
    """The event ``event_id`` if ``user`` may do ``action`` on it; raises NotFound or
    PermissionDenied. ``queryset`` may add ``select_related`` and the like."""
    event = (queryset if queryset is not None else Event.objects).filter(pk=event_id).first()
    if event is None:
        raise NotFound("There is no such event.", code="event_not_found")
    check_event_access(user, action, organizer_id=event.organizer_id, status=event.status)
    return event


def check_event_access_by_rules(user, event_id: int, action: EventAction) -> EventRules:
    """The same decision from the event rules cached in Redis (no database query); returns
    the rules."""
    rules = get_event_rules(event_id)
    check_event_access(user, action, organizer_id=rules.organizer_id, status=rules.status)
    return rules


def check_event_access(user, action: EventAction, *, organizer_id: int, status: str) -> None:
    if may_access_event(user, action, organizer_id=organizer_id, status=status):
        return
    if not may_access_event(user, EventAction.VIEW, organizer_id=organizer_id, status=status):
        raise NotFound("There is no such event.", code="event_not_found")
    raise PermissionDenied("Only the organizer of this event may do this.")
