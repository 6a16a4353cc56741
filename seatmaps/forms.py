"""Admin forms for seat maps: a procedural layout as form fields, and an SVG upload.

A procedural layout is edited as a few plain fields plus one line per section::

    stalls-front | Front stalls | 8 | 24,26,26,28,28,30,30,30 | aisles=8,22
    balcony | Balcony | 5 | 30 | aisles=8,24 first_row=1 gap_before=80 position=2

(code | name | rows | seats per row, or one count per row | options). The options are the
remaining ``SectionSpec`` fields, so every layout the generator accepts round-trips through the
form: an organizer can reopen a map and tweak it.
"""

from __future__ import annotations

import contextlib
from dataclasses import fields

from django import forms
from django.core.exceptions import ValidationError

from shared.exceptions import BusinessRuleViolation

from .generator import (
    LEFT_TO_RIGHT,
    ODD_EVEN_FROM_CENTRE,
    ROW_LETTERS,
    ROW_NUMBERS,
    InvalidLayout,
    LayoutParams,
    SectionSpec,
    generate,
)
from .models import SeatMap
from .services import read_svg
from .svg import max_upload_bytes

SECTION_OPTIONS = {"aisles": "aisles_after", "first_row": "first_row", "gap_before": "gap_before",
                   "x_offset": "x_offset", "position": "position"}  # fmt: skip
_NUMBER_FIELDS = ("seat_spacing", "row_spacing", "aisle_width", "section_gap", "curve_radius",
                  "margin", "stage_height")  # fmt: skip
_DEFAULTS = {f.name: f.default for f in fields(LayoutParams) if f.name != "sections"}


def format_sections(sections) -> str:
    lines = []
    for s in sections:
        seats = (
            s.seats_per_row
            if isinstance(s.seats_per_row, int)
            else ",".join(str(n) for n in s.seats_per_row)
        )
        options = []
        if s.aisles_after:
            options.append("aisles=" + ",".join(str(a) for a in s.aisles_after))
        if s.first_row != 1:
            options.append(f"first_row={s.first_row}")
        if s.gap_before is not None:
            options.append(f"gap_before={s.gap_before:g}")
        if s.x_offset:
            options.append(f"x_offset={s.x_offset:g}")
        if s.position is not None:
            options.append(f"position={s.position}")
        lines.append(" | ".join([s.code, s.name, str(s.rows), str(seats), " ".join(options)]))
    return "\n".join(line.rstrip(" |") for line in lines)


def parse_sections(text: str) -> tuple[SectionSpec, ...]:
    """Sections from the one-line-per-section format; ValidationError names the bad line."""
    sections = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        parts = [p.strip() for p in line.split("|")]
        if len(parts) < 4:
            raise ValidationError(
                f"Line {number}: write 'code | name | rows | seats per row | options'."
            )
        code, name, rows, seats = parts[:4]
        try:
            spec = {
                "code": code,
                "name": name or code,
                "rows": int(rows),
                "seats_per_row": _seat_counts(seats),
            }
            for option in " ".join(parts[4:]).split():
                key, _, value = option.partition("=")
                if key not in SECTION_OPTIONS:
                    raise ValidationError(
                        f"Line {number}: unknown option {key!r} (use {', '.join(SECTION_OPTIONS)})."
                    )
                spec[SECTION_OPTIONS[key]] = _option_value(key, value)
        except ValueError as exc:
            raise ValidationError(f"Line {number}: {exc}") from exc
        if isinstance(spec["seats_per_row"], tuple) and len(spec["seats_per_row"]) == 1:
            spec["seats_per_row"] = spec["seats_per_row"][0]
        sections.append(SectionSpec(**spec))
    if not sections:
        raise ValidationError("Add at least one section.")
    return tuple(sections)


def _seat_counts(text: str) -> int | tuple[int, ...]:
    counts = tuple(int(n) for n in text.replace(" ", "").split(",") if n)
    if not counts:
        raise ValueError("give the seats per row")
    return counts[0] if len(counts) == 1 else counts


def _option_value(key: str, value: str):
    if key == "aisles":
        return tuple(int(n) for n in value.split(",") if n)
    if key in ("first_row", "position"):
        return int(value)
    return float(value)


class LayoutFieldsMixin(forms.Form):
    """The generator's parameters as form fields; ``layout_params()`` after validation."""

    sections = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 6, "cols": 90, "class": "vLargeTextField"}),
        help_text="One section per line: code | name | rows | seats per row (one number, or "
        "one per row: 24,26,28) | options: aisles=8,22 first_row=9 gap_before=10 "
        "x_offset=0 position=1 (lower position is better for best available).",
        initial="stalls | Stalls | 10 | 20 | aisles=5,15",
    )
    row_labels = forms.ChoiceField(
        choices=[(ROW_LETTERS, "Letters: A, B, … Z, AA"), (ROW_NUMBERS, "Numbers: 1, 2, 3")],
        initial=ROW_LETTERS,
    )
    skip_letters = forms.CharField(
        required=False, max_length=20, help_text="Letters left out of row labels, e.g. IO."
    )
    numbering = forms.ChoiceField(
        choices=[
            (LEFT_TO_RIGHT, "Left to right"),
            (ODD_EVEN_FROM_CENTRE, "Odd right, even left, from the centre"),
        ],
        initial=LEFT_TO_RIGHT,
    )
    seat_spacing = forms.FloatField(initial=_DEFAULTS["seat_spacing"], min_value=1)
    row_spacing = forms.FloatField(initial=_DEFAULTS["row_spacing"], min_value=1)
    aisle_width = forms.FloatField(initial=_DEFAULTS["aisle_width"], min_value=0)
    section_gap = forms.FloatField(initial=_DEFAULTS["section_gap"], min_value=0)
    curve_radius = forms.FloatField(
        initial=_DEFAULTS["curve_radius"],
        min_value=0,
        help_text="0 for straight rows; about 800-3000 bends them towards the stage.",
    )

    layout_field_names = ("sections", "row_labels", "skip_letters", "numbering", "seat_spacing",
                          "row_spacing", "aisle_width", "section_gap", "curve_radius")  # fmt: skip

    def clean_sections(self):
        return parse_sections(self.cleaned_data["sections"])

    def build_layout(self) -> LayoutParams:
        data = self.cleaned_data
        try:
            params = LayoutParams(
                sections=data["sections"],
                row_labels=data["row_labels"],
                skip_letters=data.get("skip_letters") or "",
                numbering=data["numbering"],
                **{name: data[name] for name in _NUMBER_FIELDS if name in data},
            )
            generate(params)  # validates and proves it can be drawn
        except (InvalidLayout, TypeError) as exc:
            raise ValidationError(str(exc)) from exc
        return params

    @staticmethod
    def initial_from(params: LayoutParams) -> dict:
        initial = {name: getattr(params, name) for name in _NUMBER_FIELDS}
        initial.update(
            sections=format_sections(params.sections),
            row_labels=params.row_labels,
            skip_letters=params.skip_letters,
            numbering=params.numbering,
        )
        return initial


class LayoutPreviewForm(LayoutFieldsMixin):
    """Only the layout: what the admin's live preview reads from the half-filled form."""

    def clean(self):
        cleaned = super().clean()
        if not self.errors:
            self.layout = self.build_layout()
        return cleaned


class ProceduralMapForm(LayoutFieldsMixin, forms.ModelForm):
    """Create a procedural map, or change one (which regenerates its seats)."""

    class Meta:
        model = SeatMap
        fields = ["venue", "name"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.layout = None
        self.layout_changed = False
        if self.instance.pk and self.instance.source:
            with contextlib.suppress(InvalidLayout):
                self.initial.update(self.initial_from(LayoutParams.from_json(self.instance.source)))

    def clean(self):
        cleaned = super().clean()
        if self.errors:
            return cleaned
        self.layout = self.build_layout()
        old = self.instance.source if self.instance.pk else ""
        self.layout_changed = self.layout.to_json() != old
        if self.instance.pk and self.layout_changed:
            from shared.exceptions import BusinessRuleViolation

            from .services import check_no_tickets, check_not_on_sale

            try:
                check_no_tickets(self.instance)
                check_not_on_sale(self.instance)
            except BusinessRuleViolation as exc:
                raise ValidationError(exc.message) from exc
        return cleaned


class SvgMapForm(forms.ModelForm):
    """Upload an organizer's SVG: sanitized and read here, so problems show on the form."""

    svg_file = forms.FileField(
        label="SVG file",
        help_text="Each seat is an element with data-seat (and optionally data-section, "
        "data-row, data-number). Scripts, event handlers and external references are removed.",
    )

    class Meta:
        model = SeatMap
        fields = ["venue", "name"]

    def clean_svg_file(self):
        upload = self.cleaned_data["svg_file"]
        limit = max_upload_bytes()
        if upload.size > limit:
            raise ValidationError(f"The file is larger than {limit // (1024 * 1024)} MB.")
        try:
            # Read once, here: the admin saves the map from this result (create_svg_map).
            self.svg_import = read_svg(upload.read())
        except BusinessRuleViolation as exc:
            raise ValidationError(exc.message) from exc
        return upload


class SvgMapChangeForm(forms.ModelForm):
    class Meta:
        model = SeatMap
        fields = ["venue", "name"]
