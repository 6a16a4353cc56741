"""Demo maps: an oval stadium drawn as an organizer's SVG, and a theatre's generator parameters.

The stadium goes through the same importer as an uploaded file, so the demo data, the
20,000-seat benchmark and the importer's tests all exercise the real upload path. Seats are
spread along concentric ovals at an even arc-length pitch (the parametric angle of an ellipse
would bunch them up at the ends), each stand a slice of the oval with a stairway between stands.
"""

from __future__ import annotations

import bisect
import itertools
import math
from collections.abc import Sequence

from .generator import LayoutParams, SectionSpec

STADIUM_SECTIONS = (
    ("N", "North stand"),
    ("NE", "North-east corner"),
    ("E", "East stand"),
    ("SE", "South-east corner"),
    ("S", "South stand"),
    ("SW", "South-west corner"),
    ("W", "West stand"),
    ("NW", "North-west corner"),
)

PITCH = 12.0  # seat to seat, along a row and between rows
SEAT_RADIUS = 4.5
STAIRWAY = 2 * PITCH
INNER_RX, INNER_RY = 190.0, 130.0  # the first row's oval, around the pitch
MARGIN = 40.0
LABEL_ROOM = 110.0  # stand names at the left and right ends need more than MARGIN
_SAMPLES = 720


class _Oval:
    """One row ring: converts a distance along the oval (from the top, clockwise) to a point."""

    def __init__(self, cx: float, cy: float, rx: float, ry: float):
        self.cx, self.cy, self.rx, self.ry = cx, cy, rx, ry
        self.angles = [-math.pi / 2 + 2 * math.pi * i / _SAMPLES for i in range(_SAMPLES + 1)]
        self.distances = [0.0]
        for a, b in itertools.pairwise(self.angles):
            step = math.dist(self._at(a), self._at(b))
            self.distances.append(self.distances[-1] + step)
        self.perimeter = self.distances[-1]

    def _at(self, angle: float) -> tuple[float, float]:
        return self.cx + self.rx * math.cos(angle), self.cy + self.ry * math.sin(angle)

    def point(self, distance: float) -> tuple[float, float]:
        distance %= self.perimeter
        i = max(1, bisect.bisect_left(self.distances, distance))
        d0, d1 = self.distances[i - 1], self.distances[i]
        share = (distance - d0) / (d1 - d0) if d1 > d0 else 0.0
        return self._at(self.angles[i - 1] + share * (self.angles[i] - self.angles[i - 1]))


def _ring_capacity(ring: _Oval, stand_count: int) -> int:
    return max(0, int((ring.perimeter / stand_count - STAIRWAY) // PITCH))


def _rings_for(seat_count: int, stand_count: int) -> list[_Oval]:
    """Enough rings, innermost first, for ``seat_count`` seats (centre fixed later)."""
    rings: list[_Oval] = []
    capacity = 0
    while capacity * stand_count < seat_count:
        grow = len(rings) * PITCH
        rings.append(_Oval(0.0, 0.0, INNER_RX + grow, INNER_RY + grow))
        capacity += _ring_capacity(rings[-1], stand_count)
    return rings


def _share(total: int, weights: list[int]) -> list[int]:
    """Split ``total`` in proportion to ``weights`` (largest remainders), never above a weight."""
    whole = sum(weights)
    exact = [total * w / whole for w in weights]
    shares = [int(e) for e in exact]
    by_remainder = sorted(range(len(weights)), key=lambda i: exact[i] - shares[i], reverse=True)
    for i in by_remainder[: total - sum(shares)]:
        shares[i] += 1
    return shares


def stadium_svg(
    seat_count: int = 2400, sections: Sequence[tuple[str, str]] = STADIUM_SECTIONS
) -> str:
    """An oval stadium with exactly ``seat_count`` seats spread evenly over ``sections``
    (code, name), listed clockwise from the top. Rows are numbered from the pitch outwards,
    seats clockwise; each seat is ``<circle data-seat="N-3-12" data-section="N" data-row="3"
    data-number="12">``."""
    if seat_count < 1 or not sections:
        raise ValueError("A stadium needs seats and at least one section.")
    stands = len(sections)
    rings = _rings_for(seat_count, stands)
    outer = rings[-1]
    width, height = 2 * (outer.rx + LABEL_ROOM), 2 * (outer.ry + MARGIN)
    cx, cy = width / 2, height / 2
    for ring in rings:
        ring.cx, ring.cy = cx, cy
    per_stand = _share(seat_count, [1] * stands)
    capacities = [_ring_capacity(ring, stands) for ring in rings]
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width:.0f} {height:.0f}">',
        "<title>Demo stadium</title>",
        _pitch(cx, cy),
    ]
    for index, (code, name) in enumerate(sections):
        parts.append(f'<g data-section="{code}" data-section-name="{name}" fill="#cbd5e1">')
        counts = _share(per_stand[index], capacities)
        for row, (ring, count) in enumerate(zip(rings, counts, strict=True), start=1):
            middle = ring.perimeter * index / stands
            for number in range(1, count + 1):
                x, y = ring.point(middle + (number - (count + 1) / 2) * PITCH)
                parts.append(
                    f'<circle data-seat="{code}-{row}-{number}" data-section="{code}" '
                    f'data-row="{row}" data-number="{number}" '
                    f'cx="{x:.1f}" cy="{y:.1f}" r="{SEAT_RADIUS}"/>'
                )
        lx, ly = outer.point(outer.perimeter * index / stands)
        parts.append(_stand_label(cx, cy, lx, ly, name))
        parts.append("</g>")
    parts.append("</svg>")
    return "\n".join(parts)


def _stand_label(cx: float, cy: float, x: float, y: float, name: str) -> str:
    """The stand's name just outside its outer row."""
    distance = math.hypot(x - cx, y - cy) or 1.0
    lx = x + (x - cx) / distance * MARGIN * 0.6
    ly = y + (y - cy) / distance * MARGIN * 0.6
    return (
        f'<text x="{lx:.1f}" y="{ly:.1f}" fill="#475569" font-size="14" '
        f'text-anchor="middle" dominant-baseline="central">{name}</text>'
    )


def _pitch(cx: float, cy: float) -> str:
    """A football pitch (105 x 68 m at 2.4 units a metre) inside the first row."""
    w, h = 105 * 2.4 * 0.6, 68 * 2.4 * 0.6
    x, y = cx - w / 2, cy - h / 2
    box_w, box_h = 16.5 * 2.4 * 0.6, 40.3 * 2.4 * 0.6
    return (
        f'<g stroke="#ffffff" stroke-width="1.5" fill="none">'
        f'<rect x="{x:.1f}" y="{y:.1f}" width="{w:.1f}" height="{h:.1f}" fill="#4d9a4d"/>'
        f'<line x1="{cx:.1f}" y1="{y:.1f}" x2="{cx:.1f}" y2="{y + h:.1f}"/>'
        f'<circle cx="{cx:.1f}" cy="{cy:.1f}" r="{9.15 * 2.4 * 0.6:.1f}"/>'
        f'<rect x="{x:.1f}" y="{cy - box_h / 2:.1f}" width="{box_w:.1f}" height="{box_h:.1f}"/>'
        f'<rect x="{x + w - box_w:.1f}" y="{cy - box_h / 2:.1f}" width="{box_w:.1f}" '
        f'height="{box_h:.1f}"/></g>'
    )


def theatre_params() -> LayoutParams:
    """A 20-row theatre of about 600 seats in three sections (three price categories):
    front stalls A-H, back stalls J-P (no row I) and a balcony A-E, with two aisles and
    gently curved rows."""
    aisles = (8, 22)
    return LayoutParams(
        sections=(
            SectionSpec(
                code="stalls-front",
                name="Front stalls",
                rows=8,
                seats_per_row=(24, 26, 26, 28, 28, 30, 30, 30),
                aisles_after=aisles,
            ),
            SectionSpec(
                code="stalls-back",
                name="Back stalls",
                rows=7,
                seats_per_row=30,
                aisles_after=aisles,
                first_row=9,
                gap_before=10.0,
                position=1,
            ),
            SectionSpec(
                code="balcony",
                name="Balcony",
                rows=5,
                seats_per_row=(30, 30, 32, 32, 32),
                aisles_after=(8, 24),
                position=2,
            ),
        ),
        skip_letters="I",
        seat_spacing=30.0,
        row_spacing=34.0,
        aisle_width=30.0,
        section_gap=60.0,
        curve_radius=2000.0,
    )
