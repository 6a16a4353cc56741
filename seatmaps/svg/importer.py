"""Reading seats out of an organizer's SVG.

Each element carrying ``data-seat`` is a seat. Its section comes from ``data-section`` on the
element or its nearest ancestor (typically ``<g data-section="N1">``), its row and number from
``data-row``/``data-number`` or, failing those, from the ``data-seat`` value itself
("N1-12-7", "12-7", "C12"). Its position is the centre of its bounding box after the
transforms of its ancestors, so sections drawn once and rotated into place still get true
coordinates.

A stadium plan has thousands of seats drawn by hand or by a tool: one bad element must not
cost the organizer the whole upload. Elements that cannot be read are left out and listed in
the report, and the import goes on with the rest.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from xml.etree.ElementTree import Element

from . import geometry as geo
from .sanitize import parse_svg, sanitize_tree, serialize

MAX_LISTED_PROBLEMS = 500
_SEPARATORS = re.compile(r"[\s\-_:/.,]+")
_ROW_AND_NUMBER = re.compile(r"^([A-Za-z]+)(\d+[A-Za-z]?)$")
_UNSAFE_ID_CHARACTERS = re.compile(r"[^A-Za-z0-9_-]+")
_LIMITS = {"section": 50, "row": 20, "number": 20}
_CONTAINERS = ("g", "svg", "symbol")


@dataclass(frozen=True)
class ImportedSection:
    code: str
    name: str
    position: int


@dataclass(frozen=True)
class ImportedSeat:
    section_code: str
    row_label: str
    number: str
    label: str
    x: float
    y: float
    svg_id: str
    accessible: bool


@dataclass(frozen=True)
class SvgImport:
    svg: str
    width: float
    height: float
    sections: tuple[ImportedSection, ...]
    seats: tuple[ImportedSeat, ...]
    report: dict


def import_svg(data: bytes | str, *, max_bytes: int | None = None) -> SvgImport:
    """Sanitize the upload and read its seats; raises SvgRejected only for unusable files."""
    root = parse_svg(data, max_bytes=max_bytes)
    sanitize_report = sanitize_tree(root)
    reader = _SeatReader(root)
    reader.visit(root, geo.IDENTITY, None)
    width, height = _normalise_viewbox(root, reader.seats)
    report = sanitize_report.as_dict() | {
        "seats": len(reader.seats),
        "sections": len(reader.sections),
        "problem_count": reader.problem_count,
        "problems": reader.problems,
    }
    return SvgImport(
        svg=serialize(root),
        width=width,
        height=height,
        sections=tuple(reader.sections.values()),
        seats=tuple(reader.seats),
        report=report,
    )


def split_seat_value(value: str) -> tuple[str | None, str | None, str | None]:
    """(section, row, number) guessed from a ``data-seat`` value; None where it says nothing.

    "N1-12-7" -> ("N1", "12", "7"), "12-7" -> (None, "12", "7"), "C12" -> (None, "C", "12"),
    "7" -> (None, None, "7"). With more than three parts the middle ones join the section.
    """
    tokens = [t for t in _SEPARATORS.split(value.strip()) if t]
    if not tokens:
        return None, None, None
    if len(tokens) == 1:
        match = _ROW_AND_NUMBER.match(tokens[0])
        return (None, match.group(1), match.group(2)) if match else (None, None, tokens[0])
    if len(tokens) == 2:
        return None, tokens[0], tokens[1]
    return "-".join(tokens[:-2]), tokens[-2], tokens[-1]


class _SeatReader:
    def __init__(self, root: Element):
        self.id_counts = Counter(el.get("id") for el in root.iter() if el.get("id"))
        self.used_ids = set(self.id_counts)
        self.sections: dict[str, ImportedSection] = {}
        self.seats: list[ImportedSeat] = []
        self.seen_values: set[str] = set()
        self.seen_positions: set[tuple[str, str, str]] = set()
        self.problems: list[dict] = []
        self.problem_count = 0

    def problem(self, element: Element, reason: str) -> None:
        self.problem_count += 1
        if len(self.problems) < MAX_LISTED_PROBLEMS:
            self.problems.append(
                {
                    "element": element.tag,
                    "id": element.get("id", ""),
                    "data_seat": element.get("data-seat", ""),
                    "reason": reason,
                }
            )

    def visit(self, element: Element, parent_matrix, section: tuple[str, str] | None) -> None:
        own = geo.parse_transform(element.get("transform"))
        matrix = None if own is None or parent_matrix is None else geo.multiply(parent_matrix, own)
        code = element.get("data-section", "").strip()
        if code:
            section = (code, self.section_name(element, code, section))
        if "data-seat" in element.attrib:
            self.read_seat(element, matrix, section)
            for nested in list(element.iter())[1:]:
                if "data-seat" in nested.attrib:
                    self.problem(nested, "a seat inside another seat element")
            return
        if "data-number" in element.attrib:
            self.problem(element, "data-number without data-seat")
        for child in element:
            self.visit(child, matrix, section)

    def section_name(self, element: Element, code: str, inherited) -> str:
        """A seat repeating its group's ``data-section`` keeps the group's name."""
        named = element.get("data-section-name", "").strip()
        if named:
            return named
        if inherited is not None and inherited[0] == code:
            return inherited[1]
        known = self.sections.get(code)
        return known.name if known else code

    def read_seat(self, element: Element, matrix, section: tuple[str, str] | None) -> None:
        value = element.get("data-seat", "").strip()
        if not value:
            return self.problem(element, "empty data-seat")
        if value in self.seen_values:
            return self.problem(element, "duplicate data-seat")
        guessed_section, guessed_row, guessed_number = split_seat_value(value)
        if section is None and guessed_section:
            section = (guessed_section, guessed_section)
        code, section_name = section or ("main", "Main")
        row = element.get("data-row", "").strip() or guessed_row or ""
        number = element.get("data-number", "").strip() or guessed_number or ""
        for what, text in (("section", code), ("row", row), ("number", number)):
            if len(text) > _LIMITS[what]:
                return self.problem(element, f"{what} longer than {_LIMITS[what]} characters")
        if (code, row, number) in self.seen_positions:
            return self.problem(element, f"another seat is already {code} row {row} {number}")
        point = self.position(element, matrix)
        if point is None:
            return self.problem(element, "coordinates cannot be read")
        self.seen_values.add(value)
        self.seen_positions.add((code, row, number))
        if code not in self.sections:
            self.sections[code] = ImportedSection(code, section_name, len(self.sections))
        label = (
            f"{section_name} Row {row} Seat {number}" if row else f"{section_name} Seat {number}"
        )
        self.seats.append(
            ImportedSeat(
                section_code=code,
                row_label=row,
                number=number,
                label=label[:100],
                x=round(point[0], 1),
                y=round(point[1], 1),
                svg_id=self.seat_id(element, value),
                accessible=element.get("data-accessible", "").lower() in ("1", "true", "yes"),
            )
        )

    def position(self, element: Element, matrix) -> tuple[float, float] | None:
        if matrix is None:
            return None
        box = element_box(element)
        return None if box is None else geo.apply(matrix, *geo.centre(box))

    def seat_id(self, element: Element, value: str) -> str:
        """Keep a unique id the author gave; otherwise derive a stable one from data-seat."""
        current = element.get("id", "")
        if current and self.id_counts[current] == 1 and len(current) <= 100:
            return current
        base = "seat-" + (_UNSAFE_ID_CHARACTERS.sub("-", value).strip("-")[:80] or "x")
        candidate, suffix = base, 2
        while candidate in self.used_ids:
            candidate, suffix = f"{base}-{suffix}", suffix + 1
        self.used_ids.add(candidate)
        element.set("id", candidate)
        return candidate


def element_box(element: Element) -> geo.Box | None:
    """Bounding box in the element's own coordinates (before its ``transform``)."""
    if element.tag not in _CONTAINERS:
        return geo.shape_box(element.tag, element.attrib)
    boxes = []
    for child in element:
        matrix = geo.parse_transform(child.get("transform"))
        box = element_box(child)
        if matrix is None or box is None:
            continue
        boxes.append(geo.transform_box(box, matrix))
    return geo.union(boxes)


def _normalise_viewbox(root: Element, seats: list[ImportedSeat]) -> tuple[float, float]:
    """Give the root a viewBox and drop its fixed size, so the buyer page can scale and zoom
    it; returns the map's width and height in SVG units."""
    numbers = [float(n) for n in geo.NUMBER.findall(root.get("viewBox", ""))]
    if len(numbers) == 4 and numbers[2] > 0 and numbers[3] > 0:
        width, height = numbers[2], numbers[3]
    else:
        width, height = geo.length(root.get("width")), geo.length(root.get("height"))
        if not width or not height:
            width = max((s.x for s in seats), default=0) + 20
            height = max((s.y for s in seats), default=0) + 20
        root.set("viewBox", f"0 0 {width:g} {height:g}")
    root.attrib.pop("width", None)
    root.attrib.pop("height", None)
    return width, height
