"""Who is on the other end of a WebSocket: a Django session or a ``?token=`` bearer token.

Browsers cannot set an ``Authorization`` header on a WebSocket, so API clients pass their
Keycloak access token in the query string instead. The token is validated by the same DRF
authentication class the REST API uses (``ticketing.auth.authentication``), imported lazily
so this module does not depend on it being importable at start-up.
"""

import importlib
import logging
from urllib.parse import parse_qs

from channels.auth import AuthMiddlewareStack
from channels.db import database_sync_to_async
from channels.middleware import BaseMiddleware
from channels.security.websocket import AllowedHostsOriginValidator
from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.http import HttpRequest
from rest_framework import exceptions
from rest_framework.request import Request

log = logging.getLogger(__name__)


def _token_authentication_class():
    """The DRF authentication class for bearer tokens, or None while it does not exist yet."""
    dotted = settings.WS_TOKEN_AUTHENTICATION_CLASS
    if dotted.endswith(".KeycloakJWTAuthentication") and not settings.KEYCLOAK_ENABLED:
        return None  # Keycloak switched off (KEYCLOAK_URL empty): sessions only
    module_name, _, class_name = dotted.rpartition(".")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        # Only "the module is not there" is tolerated; an import error inside it is a bug.
        if exc.name and (module_name == exc.name or module_name.startswith(f"{exc.name}.")):
            log.warning("WebSocket token authentication unavailable: %s is missing", module_name)
            return None
        raise
    auth_class = getattr(module, class_name, None)
    if auth_class is None:
        log.warning("WebSocket token authentication unavailable: no %s", dotted)
    return auth_class


def authenticate_bearer_token(token: str):
    """The user a bearer access token belongs to, or None if it is not valid (sync, may query)."""
    auth_class = _token_authentication_class()
    if auth_class is None:
        return None
    http_request = HttpRequest()
    http_request.method = "GET"
    http_request.META["HTTP_AUTHORIZATION"] = f"Bearer {token}"
    try:
        result = auth_class().authenticate(Request(http_request))
    except exceptions.AuthenticationFailed as exc:
        log.info("WebSocket token refused: %s", exc)
        return None
    except exceptions.APIException as exc:
        # E.g. Keycloak's keys unavailable (503): the socket opens anonymous, private ones close.
        log.warning("WebSocket token not checked: %s", exc)
        return None
    if not result:
        return None
    user = result[0]
    return user if user is not None and user.is_active else None


def _query_token(scope) -> str | None:
    values = parse_qs(scope.get("query_string", b"").decode("latin1")).get("token")
    return values[-1] if values and values[-1] else None


class QueryTokenAuthMiddleware(BaseMiddleware):
    """Sets ``scope["user"]`` from ``?token=`` when present (an invalid token is anonymous)."""

    async def __call__(self, scope, receive, send):
        token = _query_token(scope)
        if token is not None:
            scope = dict(scope)
            user = await database_sync_to_async(authenticate_bearer_token)(token)
            scope["user"] = user or AnonymousUser()
        return await super().__call__(scope, receive, send)


class OriginCheckUnlessToken:
    """The origin check where it protects something: browser connections carrying cookies.

    Browsers always send ``Origin`` on a WebSocket handshake, so a page on another site that
    opens a socket is caught by the check (its requests carry the victim's cookies). A client
    without ``Origin`` is not a browser: with a ``?token=`` it is let through, its cookies
    dropped so only the token can authenticate it. Without either it is refused as before.
    """

    def __init__(self, inner):
        self.inner = inner
        self.origin_checked = AllowedHostsOriginValidator(inner)

    async def __call__(self, scope, receive, send):
        headers = scope.get("headers", [])
        if _query_token(scope) is None or any(name == b"origin" for name, _ in headers):
            return await self.origin_checked(scope, receive, send)
        scope = dict(scope, headers=[(k, v) for k, v in headers if k != b"cookie"])
        return await self.inner(scope, receive, send)


def WebSocketAuthMiddlewareStack(inner):
    """Session authentication first; a ``?token=`` in the URL takes precedence over it.

    Named like channels' ``AuthMiddlewareStack``, which it wraps.
    """
    return AuthMiddlewareStack(QueryTokenAuthMiddleware(inner))
