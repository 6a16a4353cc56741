"""DRF authentication with Keycloak access tokens: ``Authorization: Bearer <token>``.

Tokens are validated locally (see :mod:`ticketing.auth.tokens`): RS256 only, issuer, audience
``ticketing-api``, expiry with a small leeway, ``typ`` Bearer. Keycloak is not called per request;
only its public keys are fetched, cached and refreshed when a new ``kid`` shows up.
"""

import threading
import time

from django.conf import settings
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication, get_authorization_header

from ticketing.auth import services, tokens


class KeycloakUnavailable(exceptions.APIException):
    status_code = 503
    default_detail = "The identity provider's signing keys are not available; try again later."
    default_code = "dependency_unavailable"


class _TokenUsers:
    """Users of the access tokens this process has already validated, until each expires.

    A flash-sale buyer sends many requests with one token: its signature is checked and its
    user synchronised (a database query) on the first one only. The price: a user disabled in
    Django keeps access for the rest of the token's lifetime (minutes) in processes that saw
    it; disabling the user in Keycloak stops new tokens.
    """

    MAX_ENTRIES = 50_000

    def __init__(self):
        self._entries: dict[str, tuple[float, object, dict]] = {}
        self._lock = threading.Lock()

    def get(self, token: str):
        hit = self._entries.get(token)
        if hit is not None and hit[0] > time.time():
            return hit[1], hit[2]
        return None

    def put(self, token: str, user, claims: dict) -> None:
        with self._lock:
            if len(self._entries) >= self.MAX_ENTRIES:
                now = time.time()
                self._entries = {t: e for t, e in self._entries.items() if e[0] > now}
                if len(self._entries) >= self.MAX_ENTRIES:
                    self._entries.clear()
            self._entries[token] = (float(claims["exp"]), user, claims)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


token_users = _TokenUsers()


class KeycloakJWTAuthentication(BaseAuthentication):
    keyword = b"bearer"

    def authenticate(self, request):
        parts = get_authorization_header(request).split()
        if not parts or parts[0].lower() != self.keyword:
            return None  # not ours: let the next authentication class try
        if len(parts) != 2:
            return self._fail(request, "The Authorization header must be 'Bearer <token>'.")
        try:
            token = parts[1].decode("ascii")
        except UnicodeDecodeError:
            return self._fail(request, "The bearer token is not valid.")
        seen = token_users.get(token)
        if seen is not None:
            return seen
        try:
            claims = tokens.validate_access_token(token)
        except tokens.InvalidToken as exc:
            return self._fail(request, f"The bearer token is not valid: {exc}.")
        except tokens.KeysUnavailable as exc:
            raise KeycloakUnavailable() from exc
        try:
            user = services.sync_user_from_claims(claims)
        except services.ClaimsError as exc:
            return self._fail(request, f"The bearer token is not valid: {exc}.")
        if not user.is_active:
            return self._fail(request, "This account is disabled.")
        token_users.put(token, user, claims)
        return (user, claims)

    def _fail(self, request, message):
        request._keycloak_token_error = True
        raise exceptions.AuthenticationFailed(message)

    def authenticate_header(self, request):
        realm = getattr(settings, "KEYCLOAK_REALM", "ticketing")
        if getattr(request, "_keycloak_token_error", False):
            return f'Bearer realm="{realm}", error="invalid_token"'
        return f'Bearer realm="{realm}"'
