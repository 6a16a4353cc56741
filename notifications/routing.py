"""WebSocket routes, mounted by ``ticketing.asgi``."""

from django.urls import path

from notifications.consumers import EventSeatsConsumer, MyBookingsConsumer

websocket_urlpatterns = [
    path("ws/events/<int:event_id>/", EventSeatsConsumer.as_asgi()),
    path("ws/me/", MyBookingsConsumer.as_asgi()),
]
