"""The organizer's door to sales figures, decided by the one access policy.

``view_sales`` belongs to the event's organizer and to admins (``shared.access``). Unlike the
buyer-facing doors, another organizer's published event is "not found" here rather than
"forbidden": an organizer learns nothing about whose sales exist.
"""

from shared.access import EventAction
from shared.exceptions import NotFound, PermissionDenied
from ticketing.access import access_event
from ticketing.models import Event


def access_event_sales(user, event_id: int) -> Event:
    try:
        return access_event(
            user, event_id, EventAction.VIEW_SALES, Event.objects.select_related("venue")
        )
    except PermissionDenied as exc:
        raise NotFound("There is no such event.", code="event_not_found") from exc
