"""DRF authentication with Keycloak access tokens: ``Authorization: Bearer <token>``.

Tokens are validated locally (see :mod:`ticketing.auth.tokens`): RS256 only, issuer, audience
``ticketing-api``, expiry with a small leeway, ``typ`` Bearer. Keycloak is not called per request;
only its public keys are fetched, cached and refreshed when a new ``kid`` shows up.
"""

from django.conf import settings
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication, get_authorization_header

from ticketing.auth import services, tokens


class KeycloakUnavailable(exceptions.APIException):
    status_code = 503
    default_detail = "The identity provider's signing keys are not available; try again later."
    default_code = "dependency_unavailable"


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
        return (user, claims)

    def _fail(self, request, message):
        request._keycloak_token_error = True
        raise exceptions.AuthenticationFailed(message)

    def authenticate_header(self, request):
        realm = getattr(settings, "KEYCLOAK_REALM", "ticketing")
        if getattr(request, "_keycloak_token_error", False):
            return f'Bearer realm="{realm}", error="invalid_token"'
        return f'Bearer realm="{realm}"'
