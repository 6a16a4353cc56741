"""Where an SVG element sits: transforms and bounding boxes, approximately.

The importer needs one point per seat (for the payload and for best-available's "nearest the
centre"), not exact rendering, so curves are bounded by their control points and arcs by their
end points. Everything returns None instead of raising when a value cannot be read: the
importer reports such elements and goes on.
"""

from __future__ import annotations

import math
import re

NUMBER = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")
_TRANSFORM = re.compile(r"(matrix|translate|scale|rotate|skewX|skewY)\s*\(([^)]*)\)")
_PATH_TOKEN = re.compile(r"[MmLlHhVvCcSsQqTtAaZz]|" + NUMBER.pattern)
_PATH_ARITY = {"M": 2, "L": 2, "H": 1, "V": 1, "C": 6, "S": 4, "Q": 4, "T": 2, "A": 7, "Z": 0}
_UNITS = re.compile(r"^\s*(" + NUMBER.pattern + r")\s*(px)?\s*$")

IDENTITY = (1.0, 0.0, 0.0, 1.0, 0.0, 0.0)

Box = tuple[float, float, float, float]  # min_x, min_y, max_x, max_y


def length(value: str | None) -> float | None:
    """A plain or ``px`` length; percentages and other units are not seat coordinates."""
    if value is None:
        return None
    match = _UNITS.match(value)
    return float(match.group(1)) if match else None


def first_length(value: str | None) -> float | None:
    """``<text x="10 20 30">`` positions each glyph; the first one places the element."""
    if value is None:
        return None
    return length(value.replace(",", " ").split()[0]) if value.strip() else None


def multiply(m, n):
    a, b, c, d, e, f = m
    a2, b2, c2, d2, e2, f2 = n
    return (
        a * a2 + c * b2,
        b * a2 + d * b2,
        a * c2 + c * d2,
        b * c2 + d * d2,
        a * e2 + c * f2 + e,
        b * e2 + d * f2 + f,
    )


def apply(m, x: float, y: float) -> tuple[float, float]:
    a, b, c, d, e, f = m
    return a * x + c * y + e, b * x + d * y + f


def parse_transform(value: str | None):
    """The matrix of an SVG ``transform`` list, or None when it cannot be read."""
    if not value or not value.strip():
        return IDENTITY
    matrix = IDENTITY
    consumed = 0
    for match in _TRANSFORM.finditer(value):
        if value[consumed : match.start()].strip(" \t\r\n,"):
            return None
        consumed = match.end()
        step = _transform_step(match.group(1), [float(n) for n in NUMBER.findall(match.group(2))])
        if step is None:
            return None
        matrix = multiply(matrix, step)
    if value[consumed:].strip(" \t\r\n,"):
        return None
    return matrix


def _transform_step(name: str, args: list[float]):
    count = len(args)
    if name == "matrix" and count == 6:
        return tuple(args)
    if name == "translate" and count in (1, 2):
        return (1.0, 0.0, 0.0, 1.0, args[0], args[1] if count == 2 else 0.0)
    if name == "scale" and count in (1, 2):
        return (args[0], 0.0, 0.0, args[1] if count == 2 else args[0], 0.0, 0.0)
    if name == "rotate" and count in (1, 3):
        angle = math.radians(args[0])
        cos, sin = math.cos(angle), math.sin(angle)
        rotation = (cos, sin, -sin, cos, 0.0, 0.0)
        if count == 1:
            return rotation
        cx, cy = args[1], args[2]
        moved = multiply((1.0, 0.0, 0.0, 1.0, cx, cy), rotation)
        return multiply(moved, (1.0, 0.0, 0.0, 1.0, -cx, -cy))
    if name == "skewX" and count == 1:
        return (1.0, 0.0, math.tan(math.radians(args[0])), 1.0, 0.0, 0.0)
    if name == "skewY" and count == 1:
        return (1.0, math.tan(math.radians(args[0])), 0.0, 1.0, 0.0, 0.0)
    return None


def points_box(points: list[tuple[float, float]]) -> Box | None:
    if not points:
        return None
    xs = [p[0] for p in points]
    ys = [p[1] for p in points]
    return min(xs), min(ys), max(xs), max(ys)


def transform_box(box: Box, matrix) -> Box:
    x0, y0, x1, y1 = box
    return points_box([apply(matrix, x, y) for x, y in ((x0, y0), (x1, y0), (x0, y1), (x1, y1))])


def union(boxes: list[Box]) -> Box | None:
    if not boxes:
        return None
    return (
        min(b[0] for b in boxes),
        min(b[1] for b in boxes),
        max(b[2] for b in boxes),
        max(b[3] for b in boxes),
    )


def centre(box: Box) -> tuple[float, float]:
    return (box[0] + box[2]) / 2, (box[1] + box[3]) / 2


def _point_list(value: str | None) -> list[tuple[float, float]] | None:
    numbers = [float(n) for n in NUMBER.findall(value or "")]
    if not numbers or len(numbers) % 2:
        return None
    return list(zip(numbers[::2], numbers[1::2], strict=True))


def path_points(d: str | None) -> list[tuple[float, float]] | None:
    """End and control points of a path in absolute coordinates (None if unreadable)."""
    tokens = _PATH_TOKEN.findall(d or "")
    if not tokens or tokens[0] not in "Mm":
        return None
    points: list[tuple[float, float]] = []
    x = y = start_x = start_y = 0.0
    command = ""
    i = 0
    while i < len(tokens):
        if tokens[i].isalpha():
            command = tokens[i]
            i += 1
            if command in "Zz":
                x, y = start_x, start_y
                continue
        arity = _PATH_ARITY[command.upper()]
        if not arity:
            return None  # numbers after Z
        args = tokens[i : i + arity]
        if len(args) < arity or any(a.isalpha() for a in args):
            return None
        i += arity
        values = [float(a) for a in args]
        x, y, new_points = _path_step(command, values, x, y)
        points.extend(new_points)
        if command in "Mm":
            start_x, start_y = x, y
            command = "L" if command == "M" else "l"
    return points or None


def _path_step(command: str, values: list[float], x: float, y: float):
    relative = command.islower()
    upper = command.upper()
    if upper == "H":
        x = values[0] + (x if relative else 0.0)
        return x, y, [(x, y)]
    if upper == "V":
        y = values[0] + (y if relative else 0.0)
        return x, y, [(x, y)]
    if upper == "A":
        values = [values[5], values[6]]
    pairs = []
    for px, py in zip(values[::2], values[1::2], strict=True):
        pairs.append((px + x, py + y) if relative else (px, py))
    x, y = pairs[-1]
    return x, y, pairs


def shape_box(tag: str, attrib: dict) -> Box | None:
    """The bounding box of one basic shape in its own coordinates, or None."""
    if tag == "circle":
        cx, cy = length(attrib.get("cx", "0")), length(attrib.get("cy", "0"))
        r = length(attrib.get("r", "0"))
        if None in (cx, cy, r):
            return None
        return cx - r, cy - r, cx + r, cy + r
    if tag == "ellipse":
        cx, cy = length(attrib.get("cx", "0")), length(attrib.get("cy", "0"))
        rx, ry = length(attrib.get("rx", "0")), length(attrib.get("ry", "0"))
        if None in (cx, cy, rx, ry):
            return None
        return cx - rx, cy - ry, cx + rx, cy + ry
    if tag in ("rect", "use", "image", "svg"):
        x, y = length(attrib.get("x", "0")), length(attrib.get("y", "0"))
        w, h = length(attrib.get("width", "0")), length(attrib.get("height", "0"))
        if None in (x, y, w, h):
            return None
        return x, y, x + w, y + h
    if tag in ("text", "tspan"):
        x, y = first_length(attrib.get("x", "0")), first_length(attrib.get("y", "0"))
        return None if None in (x, y) else (x, y, x, y)
    if tag == "line":
        coords = [length(attrib.get(k, "0")) for k in ("x1", "y1", "x2", "y2")]
        return None if None in coords else points_box([coords[:2], coords[2:]])
    if tag in ("polygon", "polyline"):
        points = _point_list(attrib.get("points"))
        return points_box(points) if points else None
    if tag == "path":
        points = path_points(attrib.get("d"))
        return points_box(points) if points else None
    return None
