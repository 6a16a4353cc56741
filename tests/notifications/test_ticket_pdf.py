"""Ticket PDFs: the text names the event and seat; the QR code scans back to a valid code."""

import io
import subprocess
import zoneinfo

import pytest
from PIL import Image
from pypdf import PdfReader
from pyzbar.pyzbar import decode

from notifications.pdf import render_booking_pdf
from shared.enums import BookingStatus
from shared.exceptions import BusinessRuleViolation
from shared.ticket_codes import verify_code


def pdf_text(pdf: bytes) -> list[str]:
    return [page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages]


def page_images(pdf: bytes, tmp_path, dpi: int = 150) -> list[Image.Image]:
    """Rasterize every page with poppler's pdftoppm (Debian package poppler-utils)."""
    source = tmp_path / "tickets.pdf"
    source.write_bytes(pdf)
    subprocess.run(
        ["pdftoppm", "-png", "-r", str(dpi), str(source), str(tmp_path / "page")],
        capture_output=True,
        check=True,
        timeout=60,
    )
    return [Image.open(png) for png in sorted(tmp_path.glob("page-*.png"))]


@pytest.fixture
def seated_booking(make_user, make_event, make_booking):
    organizer = make_user()
    buyer = make_user(first_name="Ada", last_name="Lovelace")
    event = make_event(organizer, title="Sommernachtskonzert")
    seats = list(event.seat_map.seats.filter(row_label="B").order_by("id")[:2])
    return make_booking(buyer, event, seats=seats)


def test_pdf_has_one_page_per_ticket_naming_event_seat_and_holder(seated_booking):
    pdf = render_booking_pdf(seated_booking)

    pages = pdf_text(pdf)
    assert len(pages) == 2
    tickets = list(seated_booking.tickets.select_related("seat__section").order_by("id"))
    event = seated_booking.event
    for text, ticket in zip(pages, tickets, strict=True):
        flat = " ".join(text.split())
        assert event.title in flat
        assert event.venue.name in flat
        assert event.venue.address in flat
        assert "Parkett" in flat  # section
        assert f"B {ticket.seat.number}" in flat  # row, seat
        assert "Kategorie 1" in flat
        assert "49.50 EUR" in flat
        assert "Ada Lovelace" in flat
        assert seated_booking.reference in flat
        assert ticket.code in flat


def test_pdf_prints_the_start_in_the_venue_time_zone(make_user, make_event, make_booking):
    event = make_event(make_user(), seated=False, time_zone="America/New_York")
    booking = make_booking(make_user(), event, count=1)

    text = " ".join(pdf_text(render_booking_pdf(booking))[0].split())

    local = event.starts_at.astimezone(zoneinfo.ZoneInfo("America/New_York"))
    assert local.strftime("%H:%M") in text
    assert "America/New_York" in text
    assert "General admission" in text


def test_qr_code_in_the_pdf_decodes_to_a_verifiable_ticket_code(seated_booking, tmp_path):
    pdf = render_booking_pdf(seated_booking)

    decoded = []
    for image in page_images(pdf, tmp_path):
        symbols = decode(image)
        assert len(symbols) == 1, "exactly one QR code per page"
        decoded.append(symbols[0].data.decode("ascii"))

    codes = list(seated_booking.tickets.order_by("id").values_list("code", flat=True))
    assert decoded == codes
    for code in decoded:
        assert verify_code(code).event_id == seated_booking.event_id


def test_a_booking_without_live_tickets_has_no_pdf(make_user, make_event, make_booking):
    event = make_event(make_user(), seated=False)
    booking = make_booking(make_user(), event, count=0, status=BookingStatus.PENDING)

    with pytest.raises(BusinessRuleViolation):
        render_booking_pdf(booking)
