"""Sanitizing untrusted SVG uploads.

The sanitized SVG is inlined into the buyer page, so anything that can run script, load a
resource or reach outside the document must go. We keep an allow-list rather than a deny-list:
SVG has many ways to smuggle script (``<script>``, ``on*`` handlers, ``<foreignObject>`` with
HTML, ``javascript:`` links, ``<animate>``/``<set>`` rewriting an ``href``, CSS ``url()``), and
whatever we forget to deny would pass, whereas whatever we forget to allow is merely dropped and
reported.

Parsing goes through defusedxml with DTDs refused, which closes the entity tricks (billion
laughs, quadratic blow-up) and external entities (XXE) before any of them is expanded. The
output is re-serialized by our own writer, not copied: the stored text contains only allowed
elements and attributes, always double-quoted and escaped, which is also what lets
``seatmaps.render`` patch seat elements with a regular expression instead of re-parsing.
"""

from __future__ import annotations

import html
import re
from collections import Counter
from dataclasses import dataclass, field
from xml.etree.ElementTree import Element, ParseError

import defusedxml.ElementTree as DefusedET
from defusedxml import DTDForbidden, EntitiesForbidden, ExternalReferenceForbidden
from django.conf import settings

SVG_NS = "http://www.w3.org/2000/svg"
XLINK_NS = "http://www.w3.org/1999/xlink"
XML_NS = "http://www.w3.org/XML/1998/namespace"
MAX_DEPTH = 100

ALLOWED_ELEMENTS = frozenset(
    {
        "svg", "g", "defs", "symbol", "use", "title", "desc",
        "path", "rect", "circle", "ellipse", "line", "polyline", "polygon",
        "text", "tspan", "linearGradient", "radialGradient", "stop", "clipPath",
    }
)  # fmt: skip

SEAT_ATTRIBUTES = frozenset(
    {
        "data-seat", "data-section", "data-section-name", "data-row", "data-number",
        "data-accessible",
    }
)  # fmt: skip

PRESENTATION_ATTRIBUTES = frozenset(
    {
        "fill", "fill-opacity", "fill-rule", "stroke", "stroke-width", "stroke-opacity",
        "stroke-linecap", "stroke-linejoin", "stroke-dasharray", "stroke-dashoffset",
        "stroke-miterlimit", "opacity", "color", "visibility", "display", "clip-path",
        "clip-rule", "font-family", "font-size", "font-weight", "font-style", "text-anchor",
        "dominant-baseline", "alignment-baseline", "letter-spacing", "stop-color",
        "stop-opacity", "vector-effect", "paint-order", "shape-rendering",
    }
)  # fmt: skip

ALLOWED_ATTRIBUTES = (
    frozenset(
        {
            "id", "class", "transform", "style", "viewBox", "preserveAspectRatio", "version",
            "x", "y", "x1", "y1", "x2", "y2", "cx", "cy", "r", "rx", "ry", "fx", "fy",
            "width", "height", "d", "points", "pathLength", "dx", "dy", "rotate",
            "textLength", "lengthAdjust", "offset", "gradientUnits", "gradientTransform",
            "spreadMethod", "clipPathUnits", "href", "xml:space", "role", "aria-label",
            "aria-hidden", "tabindex", "focusable",
        }
    )
    | PRESENTATION_ATTRIBUTES
    | SEAT_ATTRIBUTES
)  # fmt: skip

_LOCAL_HREF = re.compile(r"^#[^\s\"'<>()\\]+$")
_URL = re.compile(r"url\(\s*(['\"]?)(.*?)\1\s*\)", re.IGNORECASE | re.DOTALL)
_CONTROL_AND_SPACE = re.compile(r"[\x00-\x20\x7f]+")
_DANGEROUS = ("javascript:", "vbscript:", "data:", "expression(", "@import", "\\", "<")
_NAMESPACE_PREFIXES = {
    "http://www.inkscape.org/namespaces/inkscape": "inkscape",
    "http://sodipodi.sourceforge.net/DTD/sodipodi-0.dtd": "sodipodi",
    "http://www.w3.org/1999/02/22-rdf-syntax-ns#": "rdf",
    "http://www.w3.org/1999/xhtml": "html",
    XLINK_NS: "xlink",
    XML_NS: "xml",
}


class SvgRejected(ValueError):
    """The upload cannot be used at all; ``reason`` is a stable code, the message is for people."""

    def __init__(self, message: str, reason: str):
        super().__init__(message)
        self.message = message
        self.reason = reason


@dataclass
class SanitizeReport:
    removed_elements: Counter = field(default_factory=Counter)
    removed_attributes: Counter = field(default_factory=Counter)
    kept_elements: int = 0

    def as_dict(self) -> dict:
        return {
            "removed_elements": dict(self.removed_elements.most_common()),
            "removed_attributes": dict(self.removed_attributes.most_common()),
            "kept_elements": self.kept_elements,
        }


def max_upload_bytes() -> int:
    return settings.SEATMAP_SVG_MAX_BYTES


def parse_svg(data: bytes | str, *, max_bytes: int | None = None) -> Element:
    """Parse an upload safely or raise SvgRejected saying why it was refused."""
    limit = max_upload_bytes() if max_bytes is None else max_bytes
    size = len(data.encode() if isinstance(data, str) else data)
    if size > limit:
        raise SvgRejected(
            f"The SVG is {size:,} bytes; the limit is {limit:,} bytes.", reason="too_large"
        )
    try:
        root = DefusedET.fromstring(
            data, forbid_dtd=True, forbid_entities=True, forbid_external=True
        )
    except (DTDForbidden, EntitiesForbidden) as exc:
        raise SvgRejected(
            "The SVG declares a DTD or entities (<!DOCTYPE>/<!ENTITY>), which are refused "
            "because they enable entity-expansion and external-entity attacks; export the "
            "file without a DOCTYPE.",
            reason="dtd",
        ) from exc
    except ExternalReferenceForbidden as exc:
        raise SvgRejected(
            "The SVG refers to an external entity, which is refused.", reason="external"
        ) from exc
    except ParseError as exc:
        raise SvgRejected(f"The file is not well-formed XML: {exc}.", reason="malformed") from exc
    if local_name(root.tag) != "svg":
        raise SvgRejected("The file is XML but not an SVG document.", reason="not_svg")
    return root


def split_tag(tag: str) -> tuple[str, str]:
    """(namespace, local name); elements without a namespace count as SVG."""
    if tag.startswith("{"):
        namespace, _, local = tag[1:].partition("}")
        return namespace, local
    return "", tag


def local_name(tag: str) -> str | None:
    """The SVG element name, or None for elements of another namespace."""
    namespace, local = split_tag(tag)
    return local if namespace in ("", SVG_NS) else None


def _attribute_name(name: str) -> str:
    namespace, local = split_tag(name)
    if not namespace:
        return local
    if namespace == XLINK_NS and local == "href":
        return "href"  # SVG 2 spells it without the prefix; browsers accept both
    return f"{_NAMESPACE_PREFIXES.get(namespace, 'ns')}:{local}"


def _displayed_tag(tag: str) -> str:
    namespace, local = split_tag(tag)
    if namespace in ("", SVG_NS):
        return local
    return f"{_NAMESPACE_PREFIXES.get(namespace, 'ns')}:{local}"


def _has_dangerous_content(value: str) -> bool:
    squashed = _CONTROL_AND_SPACE.sub("", value).lower()
    if any(token in squashed for token in _DANGEROUS):
        return True
    return any(not target.strip().startswith("#") for _, target in _URL.findall(value))


def _clean_style(value: str, report: SanitizeReport) -> str:
    """Keep the declarations of a ``style`` attribute that name a presentation property and
    have a harmless value; CSS can load URLs and, in old engines, run script."""
    kept = []
    for declaration in value.split(";"):
        if not declaration.strip():
            continue
        prop, sep, prop_value = declaration.partition(":")
        prop = prop.strip().lower()
        if sep and prop in PRESENTATION_ATTRIBUTES and not _has_dangerous_content(prop_value):
            kept.append(f"{prop}:{prop_value.strip()}")
        else:
            report.removed_attributes[f"style: {prop or declaration.strip()[:30]}"] += 1
    return ";".join(kept)


def _clean_attributes(element: Element, report: SanitizeReport) -> None:
    cleaned = {}
    for raw_name, value in element.attrib.items():
        name = _attribute_name(raw_name)
        if name not in ALLOWED_ATTRIBUTES:
            report.removed_attributes[name] += 1
            continue
        if name == "href":
            if not _LOCAL_HREF.match(value.strip()):
                report.removed_attributes["href (not a local #reference)"] += 1
                continue
            value = value.strip()
        elif name == "style":
            value = _clean_style(value, report)
            if not value:
                continue
        elif name in PRESENTATION_ATTRIBUTES and _has_dangerous_content(value):
            # Only paint and clip properties take url(); other values are never fetched.
            report.removed_attributes[f"{name} (external or script reference)"] += 1
            continue
        cleaned[name] = value
    element.attrib.clear()
    element.attrib.update(cleaned)


def sanitize_tree(root: Element) -> SanitizeReport:
    """Remove, in place, every element and attribute outside the allow-list."""
    report = SanitizeReport()
    _sanitize(root, report, depth=0)
    _defuse_use_chains(root, report)
    return report


def _sanitize(element: Element, report: SanitizeReport, depth: int) -> None:
    if depth > MAX_DEPTH:
        raise SvgRejected(
            f"The SVG nests elements more than {MAX_DEPTH} levels deep.", reason="too_deep"
        )
    element.tag = local_name(element.tag)
    report.kept_elements += 1
    _clean_attributes(element, report)
    for child in list(element):
        if not isinstance(child.tag, str) or local_name(child.tag) not in ALLOWED_ELEMENTS:
            report.removed_elements[_displayed_tag(str(child.tag))] += 1
            _remove_keeping_tail(element, child)
        else:
            _sanitize(child, report, depth + 1)


def _defuse_use_chains(root: Element, report: SanitizeReport) -> None:
    """Drop each ``<use>`` whose target itself contains a ``<use>``.

    Nested ``<use>`` is the SVG form of the billion laughs: ten levels of ten copies each
    make the browser draw ten billion shapes from a few kilobytes. Without chains, drawing
    cost stays proportional to the file size.
    """
    by_id = {el.get("id"): el for el in root.iter() if el.get("id")}
    parents = {child: parent for parent in root.iter() for child in parent}
    chained = [
        use
        for use in root.iter("use")
        if (target := by_id.get(use.get("href", "")[1:])) is not None
        and any(el.tag == "use" for el in target.iter())
    ]
    for use in chained:  # decided on the original tree, so the order of removal is irrelevant
        report.removed_elements["use (refers to another use)"] += 1
        report.kept_elements -= 1
        _remove_keeping_tail(parents[use], use)


_LOCAL_URL = re.compile(r"(url\(\s*['\"]?\s*#)", re.IGNORECASE)


def namespace_ids(root: Element, prefix: str) -> None:
    """Prefix, in place, every ``id`` and every local reference to one (``href="#x"``,
    ``url(#x)`` in presentation attributes and ``style``) with ``prefix``.

    The SVG is inlined into pages whose scripts find their own elements by id: an upload
    with ``id="event-config"`` or ``id="hold-button"`` would otherwise stand in for them.
    Ids inside the prefix cannot meet an id of the page, and the map keeps working because
    its references move with the ids. Call it on a sanitized tree (plain attribute names).
    """
    for element in root.iter():
        for name, value in element.attrib.items():
            if name == "id":
                element.set(name, prefix + value)
            elif name == "href" and value.startswith("#"):
                element.set(name, "#" + prefix + value[1:])
            elif (name == "style" or name in PRESENTATION_ATTRIBUTES) and "#" in value:
                element.set(name, _LOCAL_URL.sub(lambda m: m.group(1) + prefix, value))


def _remove_keeping_tail(parent: Element, child: Element) -> None:
    """Drop ``child`` and its subtree but keep the text that followed it (``<text>`` content)."""
    if child.tail:
        children = list(parent)
        index = children.index(child)
        if index:
            previous = children[index - 1]
            previous.tail = (previous.tail or "") + child.tail
        else:
            parent.text = (parent.text or "") + child.tail
    parent.remove(child)


def _escape(value: str) -> str:
    return html.escape(value, quote=True).replace("\n", "&#10;").replace("\r", "&#13;")


def serialize(root: Element) -> str:
    """Write a sanitized tree: SVG namespace on the root, everything escaped, no comments."""
    parts: list[str] = []
    _write(root, parts, is_root=True)
    return "".join(parts)


def _write(element: Element, parts: list[str], is_root: bool = False) -> None:
    parts.append(f"<{element.tag}")
    if is_root:
        parts.append(f' xmlns="{SVG_NS}"')
    for name, value in element.attrib.items():
        parts.append(f' {name}="{_escape(value)}"')
    if not len(element) and not element.text:
        parts.append("/>")
    else:
        parts.append(">")
        if element.text:
            parts.append(html.escape(element.text, quote=True))
        for child in element:
            _write(child, parts)
        parts.append(f"</{element.tag}>")
    if element.tail and not is_root:
        parts.append(html.escape(element.tail, quote=True))


def sanitize_svg(data: bytes | str, *, max_bytes: int | None = None) -> tuple[str, dict]:
    """The sanitized SVG text and a report of what was removed; raises SvgRejected."""
    root = parse_svg(data, max_bytes=max_bytes)
    report = sanitize_tree(root)
    return serialize(root), report.as_dict()
