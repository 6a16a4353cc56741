"""The procedural generator: theatre and cinema layouts computed from a few parameters.

Pure functions, no database: the same code serves the saved map, the admin's live preview and
the tests. The parameters round-trip through JSON because they are what ``SeatMap.source`` keeps
for a procedural map, so the organizer can reopen and tweak them later.

Geometry, in SVG user units with the stage at the top:

- each section is a block of rows; rows go down the page, ``row_spacing`` apart, and a section
  starts ``section_gap`` below the previous one (``gap_before`` overrides it);
- a row is centred on the vertical axis (plus the section's ``x_offset``); ``aisles_after`` name
  the seats of the section's widest row after which an aisle opens, and a shorter row keeps
  the aisles aligned by dropping seats at both ends of the widest row;
- with ``curve_radius`` the rows bend into concentric arcs around a point that far in front of
  the first row, so the ends of a row come closer to the stage, as in most auditoriums.
"""

from __future__ import annotations

import json
import math
import string
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field, fields

ROW_LETTERS = "letters"
ROW_NUMBERS = "numbers"
LEFT_TO_RIGHT = "left_to_right"
ODD_EVEN_FROM_CENTRE = "odd_even_from_centre"
MAX_SEATS = 100_000


class InvalidLayout(ValueError):
    """The parameters cannot produce a seat map; the message says which one and why."""


@dataclass(frozen=True)
class SectionSpec:
    code: str
    name: str
    rows: int
    # One length for every row, or one per row (front row first).
    seats_per_row: int | tuple[int, ...]
    # Seat counts of the widest row after which an aisle opens, e.g. (8, 22).
    aisles_after: tuple[int, ...] = ()
    x_offset: float = 0.0
    # Vertical space above the section; None means the layout's section_gap.
    gap_before: float | None = None
    # 1-based index of the first row label: 9 with letters gives "J" (or "K" without skips).
    first_row: int = 1
    # Lower is better (best-available starts there); None means the section's order.
    position: int | None = None

    def row_lengths(self) -> tuple[int, ...]:
        if isinstance(self.seats_per_row, int):
            return (self.seats_per_row,) * self.rows
        return tuple(self.seats_per_row)


@dataclass(frozen=True)
class LayoutParams:
    sections: tuple[SectionSpec, ...]
    row_labels: str = ROW_LETTERS
    # Letters left out of row labels, e.g. "IO" (easily confused with 1 and 0).
    skip_letters: str = ""
    numbering: str = LEFT_TO_RIGHT
    seat_spacing: float = 30.0
    row_spacing: float = 34.0
    aisle_width: float = 30.0
    section_gap: float = 50.0
    # Radius of the first row's arc; 0 keeps rows straight.
    curve_radius: float = 0.0
    margin: float = 40.0
    stage_height: float = 60.0

    def to_dict(self) -> dict:
        data = asdict(self)
        for section in data["sections"]:
            for key in ("seats_per_row", "aisles_after"):
                if isinstance(section[key], tuple):
                    section[key] = list(section[key])
        return data

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), separators=(",", ":"))

    @classmethod
    def from_dict(cls, data: dict) -> LayoutParams:
        data = dict(data)
        _refuse_unknown_keys(cls, data, "layout")
        raw_sections = data.pop("sections", None)
        if not isinstance(raw_sections, list | tuple):
            raise InvalidLayout("'sections' must be a list of sections.")
        sections = []
        for raw in raw_sections:
            if not isinstance(raw, dict):
                raise InvalidLayout("Each section must be an object.")
            raw = dict(raw)
            _refuse_unknown_keys(SectionSpec, raw, f"section {raw.get('code', '?')!r}")
            if isinstance(raw.get("seats_per_row"), list):
                raw["seats_per_row"] = tuple(raw["seats_per_row"])
            try:
                raw["aisles_after"] = tuple(raw.get("aisles_after") or ())
                sections.append(SectionSpec(**raw))
            except TypeError as exc:
                raise InvalidLayout(f"Section {raw.get('code', '?')!r}: {exc}") from exc
        try:
            params = cls(sections=tuple(sections), **data)
            validate(params)
        except TypeError as exc:
            raise InvalidLayout(f"A layout value has the wrong type: {exc}") from exc
        return params

    @classmethod
    def from_json(cls, text: str) -> LayoutParams:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise InvalidLayout(f"The layout is not valid JSON: {exc}") from exc
        if not isinstance(data, dict):
            raise InvalidLayout("The layout must be a JSON object.")
        return cls.from_dict(data)


@dataclass(frozen=True)
class GeneratedSection:
    code: str
    name: str
    position: int


@dataclass(frozen=True)
class GeneratedSeat:
    section_code: str
    row_label: str
    number: str
    label: str
    x: float
    y: float


@dataclass(frozen=True)
class Layout:
    width: float
    height: float
    sections: tuple[GeneratedSection, ...]
    seats: tuple[GeneratedSeat, ...] = field(repr=False)


def _refuse_unknown_keys(cls, data: dict, what: str) -> None:
    unknown = set(data) - {f.name for f in fields(cls)}
    if unknown:
        raise InvalidLayout(f"Unknown key(s) in {what}: {', '.join(sorted(unknown))}.")


def validate(params: LayoutParams) -> None:
    """Raise InvalidLayout with a message an organizer can act on."""
    if not params.sections:
        raise InvalidLayout("A layout needs at least one section.")
    if params.row_labels not in (ROW_LETTERS, ROW_NUMBERS):
        raise InvalidLayout(f"row_labels must be {ROW_LETTERS!r} or {ROW_NUMBERS!r}.")
    if params.numbering not in (LEFT_TO_RIGHT, ODD_EVEN_FROM_CENTRE):
        raise InvalidLayout(f"numbering must be {LEFT_TO_RIGHT!r} or {ODD_EVEN_FROM_CENTRE!r}.")
    if len(_alphabet(params.skip_letters)) < 2:
        raise InvalidLayout("skip_letters leaves fewer than two letters for row labels.")
    numbers = [getattr(params, f.name) for f in fields(params) if f.type == "float"]
    numbers += [s.x_offset for s in params.sections]
    numbers += [s.gap_before for s in params.sections if s.gap_before is not None]
    if not all(math.isfinite(n) for n in numbers):
        raise InvalidLayout("Distances must be finite numbers.")
    if params.seat_spacing <= 0 or params.row_spacing <= 0:
        raise InvalidLayout("seat_spacing and row_spacing must be positive.")
    if min(params.aisle_width, params.section_gap, params.margin, params.stage_height) < 0:
        raise InvalidLayout("aisle_width, section_gap, margin and stage_height cannot be negative.")
    if params.curve_radius < 0:
        raise InvalidLayout("curve_radius cannot be negative (0 means straight rows).")
    codes = [s.code for s in params.sections]
    if len(set(codes)) != len(codes):
        raise InvalidLayout("Section codes must be unique.")
    total = 0
    for section in params.sections:
        total += _validate_section(section)
    if total > MAX_SEATS:
        raise InvalidLayout(f"The layout has {total} seats; the limit is {MAX_SEATS}.")


def _validate_section(section: SectionSpec) -> int:
    where = f"Section {section.code!r}"
    if not section.code or len(section.code) > 50 or not section.name:
        raise InvalidLayout(f"{where}: code (1-50 characters) and name are required.")
    if section.rows < 1:
        raise InvalidLayout(f"{where}: needs at least one row.")
    if section.first_row < 1:
        raise InvalidLayout(f"{where}: first_row starts at 1.")
    lengths = section.row_lengths()
    if len(lengths) != section.rows:
        raise InvalidLayout(
            f"{where}: seats_per_row lists {len(lengths)} rows but rows is {section.rows}."
        )
    if any(not isinstance(n, int) or n < 1 for n in lengths):
        raise InvalidLayout(f"{where}: every row needs at least one seat.")
    widest = max(lengths)
    if any(not 1 <= a < widest for a in section.aisles_after):
        raise InvalidLayout(f"{where}: aisles_after must be between 1 and {widest - 1}.")
    return sum(lengths)


def _alphabet(skip: str) -> str:
    skipped = set(skip.upper())
    return "".join(c for c in string.ascii_uppercase if c not in skipped)


def row_label(index: int, scheme: str = ROW_LETTERS, skip_letters: str = "") -> str:
    """The label of the ``index``-th row (1-based): A..Z, AA, AB, ... or 1, 2, 3.

    Letters count like spreadsheet columns (bijective base-N), so Z is followed by AA.
    """
    if index < 1:
        raise ValueError("Row indexes start at 1.")
    if scheme == ROW_NUMBERS:
        return str(index)
    alphabet = _alphabet(skip_letters)
    base = len(alphabet)
    label = ""
    while index:
        index, rem = divmod(index - 1, base)
        label = alphabet[rem] + label
    return label


def seat_numbers(count: int, scheme: str = LEFT_TO_RIGHT) -> list[int]:
    """Numbers of ``count`` seats listed left to right (as the audience faces the stage).

    ``odd_even_from_centre``, the European theatre habit: the seat just right of the centre
    is 1, odd numbers grow towards the right end and even numbers towards the left end.
    """
    if scheme == LEFT_TO_RIGHT:
        return list(range(1, count + 1))
    numbers = [0] * count
    middle = count // 2
    for step, index in enumerate(range(middle, count)):
        numbers[index] = 2 * step + 1
    for step, index in enumerate(range(middle - 1, -1, -1)):
        numbers[index] = 2 * step + 2
    return numbers


def _column_offsets(widest: int, aisles_after: tuple[int, ...], params: LayoutParams):
    """Horizontal offset of each column of the widest row, centred on 0."""
    aisles = sorted(set(aisles_after))
    offsets = []
    gap = 0.0
    for column in range(widest):
        offsets.append(column * params.seat_spacing + gap)
        if column + 1 in aisles:
            gap += params.aisle_width
    middle = (offsets[0] + offsets[-1]) / 2
    return [o - middle for o in offsets]


def _row_offsets(length: int, columns: list[float], spacing: float) -> list[float]:
    """A shorter row takes the middle columns of the widest; an odd difference shifts it half
    a seat so it stays centred (staggered seating)."""
    missing = len(columns) - length
    start = missing // 2
    shift = spacing / 2 if missing % 2 else 0.0
    return [columns[start + i] + shift for i in range(length)]


def _place(offset: float, depth: float, params: LayoutParams) -> tuple[float, float]:
    """Position of a seat ``offset`` from the centre line, ``depth`` below the first row."""
    if not params.curve_radius:
        return offset, depth
    radius = params.curve_radius + depth
    angle = offset / radius
    return radius * math.sin(angle), radius * math.cos(angle) - params.curve_radius


def _iter_raw_seats(params: LayoutParams) -> Iterator[tuple[SectionSpec, str, int, float, float]]:
    depth = 0.0
    for index, section in enumerate(params.sections):
        if index:
            gap = params.section_gap if section.gap_before is None else section.gap_before
            depth += gap + params.row_spacing
        lengths = section.row_lengths()
        columns = _column_offsets(max(lengths), section.aisles_after, params)
        for row_index, length in enumerate(lengths):
            if row_index:
                depth += params.row_spacing
            label = row_label(section.first_row + row_index, params.row_labels, params.skip_letters)
            offsets = _row_offsets(length, columns, params.seat_spacing)
            for number, offset in zip(seat_numbers(length, params.numbering), offsets, strict=True):
                x, y = _place(offset + section.x_offset, depth, params)
                yield section, label, number, x, y


def generate(params: LayoutParams) -> Layout:
    """Every seat of the layout with its label and coordinates, and the map's size."""
    validate(params)
    raw = list(_iter_raw_seats(params))
    min_x = min(x for *_, x, _ in raw)
    max_x = max(x for *_, x, _ in raw)
    min_y = min(y for *_, y in raw)
    max_y = max(y for *_, y in raw)
    dx = params.margin - min_x
    dy = params.margin + params.stage_height - min_y
    seats = tuple(
        GeneratedSeat(
            section_code=section.code,
            row_label=label,
            number=str(number),
            label=f"{section.name} Row {label} Seat {number}",
            x=round(x + dx, 1),
            y=round(y + dy, 1),
        )
        for section, label, number, x, y in raw
    )
    sections = tuple(
        GeneratedSection(s.code, s.name, index if s.position is None else s.position)
        for index, s in enumerate(params.sections)
    )
    width = round(max_x - min_x + 2 * params.margin, 1)
    height = round(max_y - min_y + 2 * params.margin + params.stage_height, 1)
    return Layout(width=width, height=height, sections=sections, seats=seats)


def stage_box(params: LayoutParams, width: float) -> tuple[float, float, float, float]:
    """(x, y, width, height) of the stage drawn above the first row."""
    stage_width = max(width - 2 * params.margin, params.seat_spacing) * 0.6
    height = params.stage_height * 0.6
    return ((width - stage_width) / 2, params.margin / 2, stage_width, height)
