"""API routes of the notifications app; included under ``/api/v1/`` by ``ticketing.urls``."""

from django.urls import path

from notifications.api import BookingTicketsPdfView, CheckInView

urlpatterns = [
    path("checkin/", CheckInView.as_view(), name="checkin"),
    path(
        "bookings/<uuid:booking_id>/tickets.pdf",
        BookingTicketsPdfView.as_view(),
        name="booking-tickets-pdf",
    ),
]
