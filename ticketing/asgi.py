"""ASGI entry point: Django for HTTP, Channels for the ``/ws/`` WebSockets.

Serve with ``uvicorn ticketing.asgi:application``. The measurements in docs/architecture.md
favour WSGI for the hot HTTP path, so production may run this only for ``/ws/`` behind the
same origin; HTTP works here too for development.
"""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ticketing.settings")
# Set up Django (apps, settings) before anything imports models.
django_asgi_app = get_asgi_application()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402

from notifications.routing import websocket_urlpatterns  # noqa: E402
from notifications.ws_auth import OriginCheckUnlessToken, WebSocketAuthMiddlewareStack  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": OriginCheckUnlessToken(
            WebSocketAuthMiddlewareStack(URLRouter(websocket_urlpatterns))
        ),
    }
)
