"""The one time zone rule: event times are shown and entered in the venue's zone, labelled.

A buyer in Lisbon looking at a concert in Berlin sees "Sat 5 Dec 2026, 20:00 CET
(Europe/Berlin)": the wall-clock time at the door, with the zone spelled out.
"""

import zoneinfo
from datetime import datetime, tzinfo

from django.core.exceptions import ValidationError
from django.utils import timezone


def zone(name: str) -> tzinfo:
    """The zone called ``name`` (an IANA name such as ``Europe/Berlin``)."""
    return zoneinfo.ZoneInfo(name)


def validate_time_zone(name: str) -> None:
    """Raise ValidationError unless ``name`` is an IANA time zone this machine knows."""
    try:
        zone(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, TypeError) as exc:
        raise ValidationError(
            "%(name)s is not an IANA time zone (e.g. Europe/Berlin).", params={"name": name}
        ) from exc


def in_zone(moment: datetime, zone_name: str) -> datetime:
    return moment.astimezone(zone(zone_name))


def zone_label(moment: datetime, zone_name: str) -> str:
    """``CET (Europe/Berlin)``: the abbreviation at ``moment`` and the zone's name."""
    return f"{in_zone(moment, zone_name).tzname()} ({zone_name})"


def format_local(moment: datetime | None, zone_name: str, *, with_date: bool = True) -> str:
    """``Sat 5 Dec 2026, 20:00 CET (Europe/Berlin)`` (or ``20:00 CET (Europe/Berlin)``)."""
    if moment is None:
        return ""
    local = in_zone(moment, zone_name)
    clock = f"{local:%H:%M} {zone_label(moment, zone_name)}"
    if not with_date:
        return clock
    return f"{local:%a} {local.day} {local:%b %Y}, {clock}"


def reinterpret(moment: datetime, parsed_in: tzinfo, zone_name: str) -> datetime:
    """The same wall-clock time as ``moment`` (read in ``parsed_in``) but in the venue's zone.

    A form parses a typed "20:00" in whatever zone was active; this moves it to the venue's.
    """
    wall_clock = timezone.make_naive(moment, parsed_in)
    return timezone.make_aware(wall_clock, zone(zone_name))
