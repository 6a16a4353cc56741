"""Local validation of Keycloak-issued JWTs against the realm's published keys (JWKS).

No request goes to Keycloak per API call: the realm's signing keys are fetched by one process and
shared with the others through Redis (:mod:`ticketing.auth.jwks`, which also says why not
PyJWT's ``PyJWKClient``). A token whose ``kid`` is unknown (Keycloak rotated its keys) triggers
one refetch, at most once every ``KEYCLOAK_JWKS_MIN_REFETCH_SECONDS``, so a stream of forged
``kid`` values cannot turn into a stream of requests to Keycloak. The accepted algorithm is
pinned to RS256; the token's own header never decides it.
"""

from __future__ import annotations

from typing import Any

import jwt
from django.conf import settings

from ticketing.auth.jwks import ALGORITHM, KeysUnavailable, jwks_cache, reset_jwks_cache

__all__ = [
    "InvalidToken",
    "KeysUnavailable",
    "jwks_cache",
    "reset_jwks_cache",
    "validate_access_token",
]


class InvalidToken(Exception):
    """The token is not one this platform accepts (any reason); the message says which."""


def _decode(token: str, *, audience: str, required: list[str]) -> dict[str, Any]:
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError as exc:
        raise InvalidToken(f"malformed token: {exc}") from exc
    if header.get("alg") != ALGORITHM:
        raise InvalidToken(f"algorithm {header.get('alg')!r} is not accepted")
    kid = header.get("kid")
    if not isinstance(kid, str) or not kid:
        raise InvalidToken("the token names no signing key")
    key = jwks_cache().get_key(kid)
    if key is None:
        raise InvalidToken("the token is signed with an unknown key")
    try:
        return jwt.decode(
            token,
            key=key,
            algorithms=[ALGORITHM],
            audience=audience,
            issuer=settings.KEYCLOAK_ISSUER,
            leeway=float(getattr(settings, "KEYCLOAK_JWT_LEEWAY_SECONDS", 30)),
            options={"require": required, "verify_signature": True},
        )
    except jwt.ExpiredSignatureError as exc:
        raise InvalidToken("the token has expired") from exc
    except jwt.ImmatureSignatureError as exc:
        raise InvalidToken("the token is not valid yet") from exc
    except jwt.InvalidAudienceError as exc:
        raise InvalidToken("the token is not meant for this API (audience)") from exc
    except jwt.InvalidIssuerError as exc:
        raise InvalidToken("the token comes from another issuer") from exc
    except jwt.InvalidSignatureError as exc:
        raise InvalidToken("the token's signature is not valid") from exc
    except jwt.PyJWTError as exc:
        raise InvalidToken(f"invalid token: {exc}") from exc


def validate_access_token(token: str) -> dict[str, Any]:
    """Claims of a valid access token for this API, else :class:`InvalidToken`."""
    claims = _decode(
        token, audience=settings.KEYCLOAK_API_AUDIENCE, required=["exp", "iat", "iss", "aud", "sub"]
    )
    if claims.get("typ", "Bearer") != "Bearer":
        raise InvalidToken(f"a {claims.get('typ')!r} token is not an access token")
    return claims


def validate_id_token(token: str, *, client_id: str) -> dict[str, Any]:
    """Claims of a valid ID token issued to ``client_id`` (browser login), else InvalidToken."""
    claims = _decode(token, audience=client_id, required=["exp", "iat", "iss", "aud", "sub"])
    if claims.get("typ", "ID") != "ID":
        raise InvalidToken(f"a {claims.get('typ')!r} token is not an ID token")
    azp = claims.get("azp")
    if azp is not None and azp != client_id:
        raise InvalidToken("the ID token was issued to another client")
    return claims
