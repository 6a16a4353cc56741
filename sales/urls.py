from django.urls import path

from sales import api

urlpatterns = [
    path("events/", api.OrganizerEventListView.as_view(), name="organizer-event-list"),
    path(
        "events/<int:event_id>/sales/",
        api.OrganizerEventSalesView.as_view(),
        name="organizer-event-sales",
    ),
]
