"""Browser login through Keycloak (mozilla-django-oidc, authorization code flow with PKCE).

The backend checks the ID token itself (RS256 from the realm's JWKS, issuer, audience = our
client, nonce) instead of the library's header-driven check, and builds the user from the ID
token's claims plus the validated access token's claims (realm roles live in the access token).
It skips the userinfo endpoint: the validated tokens already carry the profile.
"""

from __future__ import annotations

import logging
from urllib.parse import urlencode

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import SuspiciousOperation
from django.shortcuts import resolve_url
from mozilla_django_oidc.auth import OIDCAuthenticationBackend

from ticketing.auth import services, tokens

logger = logging.getLogger(__name__)


class KeycloakOIDCBackend(OIDCAuthenticationBackend):
    def verify_token(self, token, **kwargs):
        """Claims of the ID token from the token endpoint, checked locally."""
        nonce = kwargs.get("nonce")
        try:
            claims = tokens.validate_id_token(token, client_id=self.OIDC_RP_CLIENT_ID)
        except (tokens.InvalidToken, tokens.KeysUnavailable) as exc:
            raise SuspiciousOperation(f"ID token rejected: {exc}") from exc
        if self.get_settings("OIDC_USE_NONCE", True) and claims.get("nonce") != nonce:
            raise SuspiciousOperation("ID token nonce mismatch")
        return claims

    def verify_claims(self, claims):
        return bool(claims.get("sub"))

    def filter_users_by_claims(self, claims):
        sub = claims.get("sub")
        if not sub:
            return get_user_model().objects.none()
        return get_user_model().objects.filter(keycloak_identity__sub=sub)

    def create_user(self, claims):
        return services.sync_user_from_claims(claims)

    def update_user(self, user, claims):
        return services.sync_user_from_claims(claims)

    def get_or_create_user(self, access_token, id_token, payload):
        try:
            access_claims = tokens.validate_access_token(access_token)
        except (tokens.InvalidToken, tokens.KeysUnavailable) as exc:
            raise SuspiciousOperation(f"access token rejected: {exc}") from exc
        if access_claims.get("sub") != payload.get("sub"):
            raise SuspiciousOperation("the ID token and the access token name different users")
        claims = {**payload, **access_claims}
        if not self.verify_claims(claims):
            raise SuspiciousOperation("Claims verification failed")
        users = self.filter_users_by_claims(claims)
        if users.exists():
            return self.update_user(users.get(), claims)
        if not self.get_settings("OIDC_CREATE_USER", True):
            logger.info("login refused: no user for Keycloak subject %s", claims["sub"])
            return None
        return self.create_user(claims)


def keycloak_logout_url(request, post_logout_redirect=None) -> str:
    """Where to send the browser to end the Keycloak session (``OIDC_OP_LOGOUT_URL_METHOD``).

    Keycloak's end-session endpoint with ``id_token_hint`` (logs out without asking) and the
    absolute ``post_logout_redirect_uri`` it sends the browser back to; that URI must match the
    client's "Valid post logout redirect URIs". Without an ID token in the session (a local
    Django login), just the local target.
    """
    target = request.build_absolute_uri(
        resolve_url(post_logout_redirect or settings.LOGOUT_REDIRECT_URL)
    )
    id_token = request.session.get("oidc_id_token")
    if not settings.KEYCLOAK_ENABLED or not id_token:
        return target
    query = urlencode(
        {
            "client_id": settings.OIDC_RP_CLIENT_ID,
            "id_token_hint": id_token,
            "post_logout_redirect_uri": target,
        }
    )
    return f"{settings.OIDC_OP_LOGOUT_ENDPOINT}?{query}"
