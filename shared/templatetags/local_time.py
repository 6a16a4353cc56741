"""``{{ event.starts_at|venue_time:event.venue.time_zone }}``: times in the venue's zone."""

from django import template

from shared.local_time import format_local

register = template.Library()


@register.filter
def venue_time(moment, zone_name):
    """``Sat 5 Dec 2026, 20:00 CET (Europe/Berlin)``."""
    return format_local(moment, zone_name)


@register.filter
def venue_clock(moment, zone_name):
    """``20:00 CET (Europe/Berlin)``: for an end time on the same day."""
    return format_local(moment, zone_name, with_date=False)
