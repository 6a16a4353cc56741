from django.urls import path

from ticketing.pages import views

urlpatterns = [
    path("", views.event_list, name="event-page-list"),
    path("<int:event_id>/", views.event_detail, name="event-page"),
]
