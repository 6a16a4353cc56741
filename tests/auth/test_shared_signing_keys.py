"""The realm's signing keys are fetched by one process and shared with the others through Redis:
a process that starts while Keycloak is down still validates real Keycloak tokens, and an unknown
``kid`` refetches at most once per interval across processes."""

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import redis
from django.conf import settings as django_settings

from tests.conftest import test_database_url
from ticketing.auth import jwks, tokens

pytestmark = [pytest.mark.django_db, pytest.mark.keycloak]

ROOT = Path(__file__).resolve().parents[2]


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def validate_in_a_fresh_process(token: str, jwks_url: str) -> subprocess.CompletedProcess:
    """A new Python process, as a web worker started now, validating ``token``."""
    code = (
        "import django; django.setup()\n"
        "from ticketing.auth import tokens\n"
        f"claims = tokens.validate_access_token({token!r})\n"
        "print(claims['preferred_username'], tokens.jwks_cache().fetch_count)\n"
    )
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "ticketing.settings_test",
        "DATABASE_URL": test_database_url(),
        "CACHE_URL": django_settings.CACHE_URL,
        "KEYCLOAK_JWKS_URL": jwks_url,
    }
    return subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True,
        timeout=60, check=False,
    )  # fmt: skip


def test_a_process_started_while_keycloak_is_down_validates_with_the_shared_keys(
    keycloak, api_get, settings
):
    # Given one process that fetched the realm's keys
    token = keycloak.access_token("buyer@example.com")
    assert api_get(token=token).status_code == 200
    assert tokens.jwks_cache().fetch_count == 1

    # When Keycloak cannot be reached
    unreachable = f"http://127.0.0.1:{closed_port()}/realms/ticketing/certs"

    # Then a freshly started process validates the token without fetching anything
    fresh = validate_in_a_fresh_process(token, unreachable)
    assert fresh.returncode == 0, fresh.stderr[-2000:]
    assert fresh.stdout.split() == ["buyer@example.com", "0"]
    # And so does this process once its own memory is gone
    settings.KEYCLOAK_JWKS_URL = unreachable
    tokens.reset_jwks_cache()
    assert api_get(token=keycloak.access_token("buyer@example.com")).status_code == 200
    assert tokens.jwks_cache().fetch_count == 0  # the shared copy is fresh: no fetch at all


def test_without_a_shared_copy_a_fresh_process_cannot_validate(keycloak):
    # The counterpart of the test above: nothing in Redis and Keycloak unreachable.
    token = keycloak.access_token("buyer@example.com")
    unreachable = f"http://127.0.0.1:{closed_port()}/realms/ticketing/certs"

    fresh = validate_in_a_fresh_process(token, unreachable)

    assert fresh.returncode != 0
    assert "KeysUnavailable" in fresh.stderr


def test_an_unknown_kid_refetches_at_most_once_per_interval_across_processes(
    keycloak, forger, other_rsa_key, settings
):
    settings.KEYCLOAK_JWKS_MIN_REFETCH_SECONDS = 1
    url = django_settings.KEYCLOAK_JWKS_URL
    this_process = tokens.jwks_cache()
    other_process = jwks.JWKSCache(
        url, issuer=django_settings.KEYCLOAK_ISSUER, redis_url=django_settings.CACHE_URL
    )
    tokens.validate_access_token(keycloak.access_token("buyer@example.com"))
    assert this_process.fetch_count == 1

    # Another process met a kid it does not know right after: the shared guard holds it back,
    # the shared document serves the known keys
    assert other_process.get_key("unknown-1") is None
    assert other_process.get_key(forger.kid) is not None
    assert other_process.fetch_count == 0

    # Once the interval has passed, one unknown kid costs one fetch, whichever process asks
    time.sleep(1.1)
    assert other_process.get_key("unknown-2") is None
    assert this_process.get_key("unknown-2") is None
    for i in range(5):
        assert other_process.get_key(f"unknown-3-{i}") is None
    assert (this_process.fetch_count, other_process.fetch_count) == (1, 1)


def test_redis_down_falls_back_to_fetching_from_keycloak(keycloak, settings):
    dead = f"redis://127.0.0.1:{closed_port()}/0"
    cache = jwks.JWKSCache(
        django_settings.KEYCLOAK_JWKS_URL, issuer=django_settings.KEYCLOAK_ISSUER, redis_url=dead
    )
    kid = keycloak.active_signing_kid()

    assert cache.get_key(kid) is not None
    assert cache.fetch_count == 1
    with pytest.raises(redis.ConnectionError):
        redis.Redis.from_url(dead).ping()
