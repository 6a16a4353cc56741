"""REST endpoint for the door scanners: ``POST /api/v1/checkin/`` ``{"code": "..."}``."""

from django.http import HttpResponse
from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from notifications.checkin import check_in_ticket
from notifications.pdf import GENERAL_ADMISSION, holder_name, render_booking_pdf
from registration_worker.models import Booking


class CheckInRequestSerializer(serializers.Serializer):
    code = serializers.CharField(max_length=100, trim_whitespace=True)


class CheckInView(APIView):
    """Admit one ticket; 200 once, then 409 with the time of the first check-in."""

    permission_classes = [IsAuthenticated]

    @extend_schema(
        request=CheckInRequestSerializer,
        responses={
            200: OpenApiResponse(OpenApiTypes.OBJECT, description="Admitted: holder, seat, event."),
            400: OpenApiResponse(description="Forged, truncated or malformed code."),
            403: OpenApiResponse(description="Not the organizer of this event, nor staff."),
            409: OpenApiResponse(description="Already checked in; details.checked_in_at."),
            410: OpenApiResponse(description="Ticket or event cancelled."),
        },
    )
    def post(self, request):
        data = CheckInRequestSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        result = check_in_ticket(data.validated_data["code"], request.user)
        return Response(checkin_response(result.ticket))


def checkin_response(ticket) -> dict:
    seat = ticket.seat
    event = ticket.event
    return {
        "status": "admitted",
        "checked_in_at": ticket.checked_in_at.isoformat(),
        "holder": {"name": holder_name(ticket.booking.buyer)},
        "booking": {"id": str(ticket.booking_id), "reference": ticket.booking.reference},
        "event": {
            "id": event.pk,
            "title": event.title,
            "starts_at": event.starts_at.isoformat(),
            "venue": event.venue.name,
        },
        "seat": (
            {
                "id": seat.pk,
                "section": seat.section.name,
                "row": seat.row_label,
                "number": seat.number,
                "label": seat.label,
            }
            if seat
            else None
        ),
        "place": f"{seat.section.name}, row {seat.row_label}, seat {seat.number}"
        if seat
        else GENERAL_ADMISSION,
        "price_category": ticket.price_category.name,
    }


class BookingTicketsPdfView(APIView):
    """``GET /api/v1/bookings/{id}/tickets.pdf``: the buyer's tickets, one page each."""

    permission_classes = [IsAuthenticated]

    @extend_schema(responses={(200, "application/pdf"): OpenApiTypes.BINARY})
    def get(self, request, booking_id):
        booking = get_object_or_404(Booking.objects.filter(buyer=request.user), pk=booking_id)
        response = HttpResponse(render_booking_pdf(booking), content_type="application/pdf")
        response["Content-Disposition"] = f'inline; filename="tickets-{booking.reference}.pdf"'
        return response
