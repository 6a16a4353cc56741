"""The realm's signing keys (JWKS), fetched by one process and shared with every other through
Redis, so a process that starts while Keycloak is down still validates tokens.

PyJWT parses the keys (``PyJWKSet``); the fetching and caching are ours rather than
``PyJWKClient``'s because its cache lives in one process's memory, and ours must be shared across
processes.

Where a key comes from, first hit wins:
1. this process's memory (the hot path: no lock, no I/O);
2. the JWKS document in Redis (``CACHE_URL``), written by whichever process fetched it last;
3. Keycloak, when the document is missing, older than ``KEYCLOAK_JWKS_CACHE_SECONDS`` or does
   not know the token's ``kid`` (Keycloak rotated its keys). At most one fetch per
   ``KEYCLOAK_JWKS_MIN_REFETCH_SECONDS`` across all processes (a Redis ``SET NX`` guard, and a
   per-process one when Redis is down), so forged ``kid`` values cannot flood Keycloak.

A failed fetch keeps the keys already known, however old: Keycloak being down must not lock
buyers out. Only the accepted algorithm's signing keys are kept (RS256, ``use`` sig).
"""

from __future__ import annotations

import contextlib
import json
import logging
import threading
import time
from typing import Any

import jwt
import redis
import requests
from django.conf import settings

from shared.redis_clients import redis_client

logger = logging.getLogger(__name__)

ALGORITHM = "RS256"


class KeysUnavailable(Exception):
    """The realm's JWKS could not be fetched and no process has shared a copy."""


def _signing_keys(document: dict) -> dict[str, Any]:
    """``kid`` -> public key of the RS256 signing keys in a JWKS document."""
    usable = [
        jwk
        for jwk in document.get("keys", [])
        if isinstance(jwk, dict)
        and jwk.get("kty") == "RSA"
        and jwk.get("use", "sig") == "sig"
        and jwk.get("alg", ALGORITHM) == ALGORITHM
        and jwk.get("kid")
    ]
    try:
        return {key.key_id: key.key for key in jwt.PyJWKSet(usable).keys}
    except jwt.PyJWKSetError as exc:
        raise KeysUnavailable(f"no usable signing key in the JWKS: {exc}") from exc


class JWKSCache:
    """The realm's signing keys by ``kid``, shared through Redis and refreshed rate-limited."""

    def __init__(self, url: str, *, issuer: str, redis_url: str):
        self.url = url
        self.shared_key = f"tk:jwks:{issuer}"
        self.guard_key = f"{self.shared_key}:refetch"
        self.redis_url = redis_url
        self._keys: dict[str, Any] = {}
        self._fetched_at: float | None = None  # wall-clock time the document was fetched
        self._attempted_at: float | None = None  # monotonic time of this process's last fetch
        self._lock = threading.Lock()
        self.fetch_count = 0  # HTTP fetches made by this process (tests and metrics read it)

    @staticmethod
    def _settings() -> tuple[float, float, float]:
        return (
            float(settings.KEYCLOAK_JWKS_CACHE_SECONDS),
            float(settings.KEYCLOAK_JWKS_MIN_REFETCH_SECONDS),
            float(getattr(settings, "OIDC_TIMEOUT", 5) or 5),
        )

    def get_key(self, kid: str):
        """The public key for ``kid``; None when the realm does not publish it.

        Raises :class:`KeysUnavailable` when no key at all is known.
        """
        ttl, min_interval, timeout = self._settings()
        keys, fetched_at = self._keys, self._fetched_at
        if kid in keys and fetched_at is not None and time.time() - fetched_at < ttl:
            return keys[kid]
        with self._lock:
            self._adopt_shared()
            stale = self._fetched_at is None or time.time() - self._fetched_at >= ttl
            if (stale or kid not in self._keys) and self._may_fetch(min_interval):
                # A failure keeps serving the keys we have while Keycloak is unreachable.
                with contextlib.suppress(KeysUnavailable):
                    self._fetch(timeout)
            if not self._keys:
                raise KeysUnavailable("the realm's signing keys could not be fetched yet")
            return self._keys.get(kid)

    def _redis(self) -> redis.Redis:
        return redis_client(self.redis_url)

    def _adopt_shared(self) -> None:
        """Take the document another process fetched, when it is newer than ours."""
        try:
            raw = self._redis().get(self.shared_key)
        except redis.RedisError as exc:
            logger.warning("could not read the shared JWKS from Redis: %s", exc)
            return
        if raw is None:
            return
        try:
            shared = json.loads(raw)
            if self._fetched_at is None or shared["fetched_at"] > self._fetched_at:
                self._keys = _signing_keys(shared["jwks"])
                self._fetched_at = float(shared["fetched_at"])
        except (ValueError, KeyError, TypeError, KeysUnavailable) as exc:
            logger.warning("ignoring an unusable shared JWKS: %s", exc)

    def _may_fetch(self, min_interval: float) -> bool:
        now = time.monotonic()
        if self._attempted_at is not None and now - self._attempted_at < min_interval:
            return False
        try:
            claimed = self._redis().set(
                self.guard_key, "1", nx=True, px=max(1, int(min_interval * 1000))
            )
        except redis.RedisError:
            claimed = True  # Redis down: the per-process limit above is all we have
        return bool(claimed)

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
        self._keys = _signing_keys(document)
        self._fetched_at = time.time()
        shared = json.dumps({"fetched_at": self._fetched_at, "jwks": document})
        try:
            self._redis().set(self.shared_key, shared)
        except redis.RedisError as exc:
            logger.warning("could not share the JWKS through Redis: %s", exc)


_cache: JWKSCache | None = None
_cache_lock = threading.Lock()


def jwks_cache() -> JWKSCache:
    """The process-wide key cache for the configured JWKS URL."""
    global _cache
    url = getattr(settings, "KEYCLOAK_JWKS_URL", None) or settings.OIDC_OP_JWKS_ENDPOINT
    with _cache_lock:
        if _cache is None or _cache.url != url:
            _cache = JWKSCache(url, issuer=settings.KEYCLOAK_ISSUER, redis_url=settings.CACHE_URL)
        return _cache


def reset_jwks_cache() -> None:
    """Forget this process's keys, as a freshly started process (tests)."""
    global _cache
    with _cache_lock:
        _cache = None
