"""QR codes for tickets, as inline SVG (vector: sharp at any print size, no raster encoder)."""

import qrcode
from qrcode.image.svg import SvgPathImage

# Medium error correction survives a crease or a scratched phone screen; ticket codes are
# 32 base32 characters, which QR's alphanumeric mode fits in a version-2 symbol (25x25 modules).
_ERROR_CORRECTION = qrcode.constants.ERROR_CORRECT_M
_QUIET_ZONE_MODULES = 4  # the minimum the QR specification asks for


def qr_svg(data: str) -> str:
    """Return ``data`` as a standalone ``<svg>`` element (no XML declaration) to inline in HTML.

    The element carries a ``viewBox`` and no fixed width or height, so CSS sizes it.
    """
    qr = qrcode.QRCode(
        error_correction=_ERROR_CORRECTION,
        border=_QUIET_ZONE_MODULES,
        image_factory=SvgPathImage,
    )
    qr.add_data(data)
    qr.make(fit=True)
    image = qr.make_image()
    svg = image.get_image()
    # Let the stylesheet decide the printed size; the viewBox keeps the proportions.
    svg.attrib.pop("width", None)
    svg.attrib.pop("height", None)
    svg.set("class", "qr")
    # The drawer names its path id="qr-path"; several tickets on one page set would repeat it.
    for path in svg.iter():
        path.attrib.pop("id", None)
    return image.to_string(encoding="unicode")
