"""Local validation of Keycloak-issued JWTs against the realm's published keys (JWKS).

No request goes to Keycloak per API call: the realm's signing keys are fetched once and kept in
process. A token whose ``kid`` is unknown (Keycloak rotated its keys) triggers one refetch, at
most once every ``KEYCLOAK_JWKS_MIN_REFETCH_SECONDS``, so a stream of forged ``kid`` values cannot
turn into a stream of requests to Keycloak. The accepted algorithm is pinned to RS256; the token's
own header never decides it.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

import jwt
import requests
from django.conf import settings

logger = logging.getLogger(__name__)

ALGORITHM = "RS256"


class InvalidToken(Exception):
    """The token is not one this platform accepts (any reason); the message says which."""


class KeysUnavailable(Exception):
    """The realm's JWKS could not be fetched and no keys are cached."""


class JWKSCache:
    """The realm's RS256 signing keys by ``kid``, refreshed lazily and rate-limited."""

    def __init__(self, url: str):
        self.url = url
        self._keys: dict[str, Any] = {}
        self._fetched_at: float | None = None  # monotonic time of the last successful fetch
        self._attempted_at: float | None = None  # monotonic time of the last attempt
        self._lock = threading.Lock()
        self.fetch_count = 0  # HTTP fetches made (tests and metrics read it)

    @staticmethod
    def _settings() -> tuple[float, float, float]:
        return (
            float(getattr(settings, "KEYCLOAK_JWKS_CACHE_SECONDS", 3600)),
            float(getattr(settings, "KEYCLOAK_JWKS_MIN_REFETCH_SECONDS", 10)),
            float(getattr(settings, "OIDC_TIMEOUT", 5) or 5),
        )

    def _fetch(self, timeout: float) -> None:
        self._attempted_at = time.monotonic()
        self.fetch_count += 1
        try:
            response = requests.get(self.url, timeout=timeout)
            response.raise_for_status()
            document = response.json()
        except (requests.RequestException, ValueError) as exc:
            logger.warning("could not fetch the Keycloak JWKS from %s: %s", self.url, exc)
            raise KeysUnavailable(str(exc)) from exc
        keys = {}
        for jwk in document.get("keys", []):
            if jwk.get("kty") != "RSA" or jwk.get("use", "sig") != "sig":
                continue
            if jwk.get("alg", ALGORITHM) != ALGORITHM or not jwk.get("kid"):
                continue
            try:
                keys[jwk["kid"]] = jwt.PyJWK(jwk, algorithm=ALGORITHM).key
            except jwt.PyJWKError as exc:  # a malformed key: skip it, keep the others
                logger.warning("skipping an unusable JWKS key %s: %s", jwk.get("kid"), exc)
        self._keys = keys
        self._fetched_at = self._attempted_at

    def get_key(self, kid: str):
        ttl, min_interval, timeout = self._settings()
        fetched_at, keys = self._fetched_at, self._keys
        if fetched_at is not None and time.monotonic() - fetched_at < ttl and kid in keys:
            return keys[kid]  # the hot path: no lock, no I/O
        with self._lock:
            now = time.monotonic()
            may_fetch = self._attempted_at is None or now - self._attempted_at >= min_interval
            stale = self._fetched_at is None or now - self._fetched_at >= ttl
            if stale and may_fetch:
                may_fetch = False
                try:
                    self._fetch(timeout)
                except KeysUnavailable:
                    if not self._keys:
                        raise
                    # Keep serving the keys we have while Keycloak is unreachable.
            key = self._keys.get(kid)
            if key is None and may_fetch:
                # Unknown kid: Keycloak may have rotated its keys. One fetch, rate-limited.
                try:
                    self._fetch(timeout)
                except KeysUnavailable:
                    if not self._keys:
                        raise
                key = self._keys.get(kid)
            if key is None and self._fetched_at is None:
                raise KeysUnavailable("the realm's signing keys could not be fetched yet")
        if key is None:
            raise InvalidToken("the token is signed with an unknown key")
        return key


_cache: JWKSCache | None = None
_cache_lock = threading.Lock()


def jwks_cache() -> JWKSCache:
    """The process-wide key cache for the configured JWKS URL."""
    global _cache
    url = getattr(settings, "KEYCLOAK_JWKS_URL", None) or settings.OIDC_OP_JWKS_ENDPOINT
    with _cache_lock:
        if _cache is None or _cache.url != url:
            _cache = JWKSCache(url)
        return _cache


def reset_jwks_cache() -> None:
    """Forget the cached keys (tests)."""
    global _cache
    with _cache_lock:
        _cache = None


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
