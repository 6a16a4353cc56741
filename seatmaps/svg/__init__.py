"""Untrusted SVG seat maps: the sanitizer (``sanitize``) and the seat importer (``importer``)."""

from .importer import ImportedSeat, ImportedSection, SvgImport, import_svg, split_seat_value
from .sanitize import SanitizeReport, SvgRejected, max_upload_bytes, parse_svg, sanitize_svg

__all__ = [
    "ImportedSeat",
    "ImportedSection",
    "SanitizeReport",
    "SvgImport",
    "SvgRejected",
    "import_svg",
    "max_upload_bytes",
    "parse_svg",
    "sanitize_svg",
    "split_seat_value",
]
