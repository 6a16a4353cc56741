from django.urls import path

from ticketing.api import views

urlpatterns = [
    path("events/", views.EventListView.as_view(), name="event-list"),
    path("events/<int:event_id>/", views.EventDetailView.as_view(), name="event-detail"),
    path("events/<int:event_id>/seats/", views.EventSeatsView.as_view(), name="event-seats"),
    path("events/<int:event_id>/holds/", views.HoldCreateView.as_view(), name="hold-create"),
    path("events/<int:event_id>/holds/mine/", views.MyHoldsView.as_view(), name="my-holds"),
    path("holds/<str:hold_id>/", views.HoldDetailView.as_view(), name="hold-detail"),
    path("holds/<str:hold_id>/extend/", views.HoldExtendView.as_view(), name="hold-extend"),
    path("registrations/", views.RegistrationCreateView.as_view(), name="registration-create"),
    path(
        "registrations/<uuid:tracking_id>/",
        views.RegistrationStatusView.as_view(),
        name="registration-status",
    ),
    path("bookings/", views.BookingListView.as_view(), name="booking-list"),
    path("bookings/<uuid:booking_id>/", views.BookingDetailView.as_view(), name="booking-detail"),
    path(
        "bookings/<uuid:booking_id>/cancel/",
        views.BookingCancelView.as_view(),
        name="booking-cancel",
    ),
]
