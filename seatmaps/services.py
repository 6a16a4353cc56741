"""Creating and changing seat maps: the only writers of maps, sections and seats.

Each function writes a whole map in one transaction with ``bulk_create`` (a 20,000-seat
stadium is one round trip per batch, not 20,000 saves) and bumps ``SeatMap.revision`` so
cached renderings go stale. Sections are kept by code when a map is regenerated because
price categories point at them.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.db import transaction
from django.db.models import ProtectedError

from shared.enums import LIVE_TICKET_STATUSES, EventStatus
from shared.exceptions import BusinessRuleViolation

from .generator import InvalidLayout, LayoutParams, generate
from .models import Seat, SeatMap, Section
from .svg import SvgImport, SvgRejected, import_svg

BATCH_SIZE = 2000


def create_procedural_map(venue, name: str, params: LayoutParams, owner=None) -> SeatMap:
    """A new map generated from ``params`` (``owner`` None: a shared map); raises
    BusinessRuleViolation for bad parameters."""
    layout = _generate(params)
    with transaction.atomic():
        seat_map = SeatMap.objects.create(
            venue=venue,
            owner=owner,
            name=name,
            kind=SeatMap.Kind.PROCEDURAL,
            source=params.to_json(),
            width=layout.width,
            height=layout.height,
        )
        _write_seats(seat_map, layout.sections, layout.seats)
    return seat_map


def regenerate_procedural_map(seat_map: SeatMap, params: LayoutParams) -> SeatMap:
    """Replace the seats of a procedural map with a new layout.

    Refused while a published event uses the map (``check_not_on_sale``), and once a seat has
    a live ticket: the buyer's ticket names a seat that must keep existing where it was sold.
    Seats with only cancelled tickets cannot be deleted either (the ticket keeps its
    history), which is refused the same way.
    """
    if seat_map.kind != SeatMap.Kind.PROCEDURAL:
        raise BusinessRuleViolation(
            "Only procedural maps can be regenerated; upload a new SVG map instead.",
            code="not_procedural",
        )
    layout = _generate(params)
    with transaction.atomic():
        locked = SeatMap.objects.select_for_update().get(pk=seat_map.pk)
        check_no_tickets(locked)
        check_not_on_sale(locked)
        try:
            Seat.objects.filter(seat_map=locked).delete()
        except ProtectedError as exc:  # a ticket was written after the check
            raise _seats_sold(locked) from exc
        locked.source = params.to_json()
        locked.width, locked.height = layout.width, layout.height
        locked.save(update_fields=["source", "width", "height"])
        _write_seats(locked, layout.sections, layout.seats)
    seat_map.refresh_from_db()
    return seat_map


def check_not_on_sale(seat_map: SeatMap) -> None:
    """Raise BusinessRuleViolation if a published event (on sale or closed) uses the map.

    Its buyers may hold these seats, and its published rules name them; only drafts (whose
    rules are published again when sales open) may see their map change underneath.
    """
    published = list(
        seat_map.events.filter(status__in=[EventStatus.ON_SALE, EventStatus.CLOSED]).values_list(
            "title", flat=True
        )
    )
    if published:
        raise BusinessRuleViolation(
            f"The seat map {seat_map.name!r} is used by published events "
            f"({', '.join(published)}); create a new map and choose it for those events instead.",
            code="seat_map_in_use",
            details={"events": published},
        )


def check_no_tickets(seat_map: SeatMap) -> None:
    """Raise BusinessRuleViolation if any seat of the map has a ticket."""
    statuses = set(
        Seat.objects.filter(seat_map=seat_map, tickets__isnull=False)
        .values_list("tickets__status", flat=True)
        .distinct()
    )
    if statuses & set(LIVE_TICKET_STATUSES):
        raise _seats_sold(seat_map)
    if statuses:
        raise BusinessRuleViolation(
            f"The seat map {seat_map.name!r} has cancelled tickets that refer to its seats; "
            "create a new map instead of regenerating this one.",
            code="seat_map_has_tickets",
        )


def _seats_sold(seat_map: SeatMap) -> BusinessRuleViolation:
    sold = (
        Seat.objects.filter(seat_map=seat_map, tickets__status__in=LIVE_TICKET_STATUSES)
        .distinct()
        .count()
    )
    return BusinessRuleViolation(
        f"The seat map {seat_map.name!r} cannot be regenerated: {sold} of its seats "
        "have been sold. Create a new map for future events instead.",
        code="seat_map_has_sales",
        details={"sold_seats": sold},
    )


def import_svg_map(
    venue, name: str, svg_bytes: bytes, owner=None, *, max_bytes: int | None = None
) -> tuple[SeatMap, dict]:
    """A new map from an organizer's SVG, and the importer's report (``read_svg`` then
    ``create_svg_map``)."""
    return create_svg_map(venue, name, read_svg(svg_bytes, max_bytes=max_bytes), owner)


def read_svg(svg_bytes: bytes, *, max_bytes: int | None = None) -> SvgImport:
    """Parse, sanitize and read an organizer's SVG: the one parse of an upload.

    Refused (BusinessRuleViolation, code ``svg_rejected``) when the file is unusable or has
    no readable seat; elements that could not be read are listed in the report instead.
    """
    try:
        result = import_svg(svg_bytes, max_bytes=max_bytes)
    except SvgRejected as exc:
        raise BusinessRuleViolation(
            exc.message, code="svg_rejected", details={"reason": exc.reason}
        ) from exc
    if not result.seats:
        raise BusinessRuleViolation(
            "No seat could be read from the SVG: mark each seat element with data-seat.",
            code="svg_rejected",
            details={"reason": "no_seats", "report": result.report},
        )
    return result


def create_svg_map(venue, name: str, result: SvgImport, owner=None) -> tuple[SeatMap, dict]:
    """A new map from an SVG that ``read_svg`` accepted, and the importer's report."""
    with transaction.atomic():
        seat_map = SeatMap.objects.create(
            venue=venue,
            owner=owner,
            name=name,
            kind=SeatMap.Kind.SVG,
            source=result.svg,
            width=result.width,
            height=result.height,
            report=result.report,
        )
        _write_seats(seat_map, result.sections, result.seats)
    return seat_map, result.report


def _generate(params: LayoutParams):
    try:
        return generate(params)
    except InvalidLayout as exc:
        raise BusinessRuleViolation(str(exc), code="invalid_layout") from exc


def _write_seats(seat_map: SeatMap, sections: Iterable, seats: Iterable) -> None:
    """Upsert sections by code, drop the ones no longer used, insert all seats.

    The caller holds the transaction and has deleted the map's previous seats.
    """
    existing = {s.code: s for s in Section.objects.filter(seat_map=seat_map)}
    wanted = {s.code: s for s in sections}
    for code, spec in wanted.items():
        section = existing.get(code)
        if section is None:
            existing[code] = Section.objects.create(
                seat_map=seat_map, code=code, name=spec.name, position=spec.position
            )
        elif (section.name, section.position) != (spec.name, spec.position):
            section.name, section.position = spec.name, spec.position
            section.save(update_fields=["name", "position"])
    Section.objects.filter(seat_map=seat_map).exclude(code__in=wanted).delete()
    Seat.objects.bulk_create(
        (
            Seat(
                seat_map=seat_map,
                section=existing[seat.section_code],
                row_label=seat.row_label,
                number=seat.number,
                label=seat.label,
                x=seat.x,
                y=seat.y,
                svg_id=getattr(seat, "svg_id", ""),
                accessible=getattr(seat, "accessible", False),
            )
            for seat in seats
        ),
        batch_size=BATCH_SIZE,
    )
    seat_map.bump_revision()
