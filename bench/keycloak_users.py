"""Keycloak buyers for the bearer-token path: created once through the admin REST API, their
tokens cached in var/bench so that a rerun does not pay Keycloak's password hashing again.

Users are ``bench-kc-0000`` ... in realm ``ticketing`` with one development-only password.
Tokens come from the ``ticketing-cli`` public client (password grant, audience ticketing-api);
a cached token is reused while it has ``min_valid`` seconds left, else refreshed with its refresh
token (cheap), and only when that fails obtained again with the password (expensive).
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import time
from pathlib import Path

import httpx
from django.conf import settings

ROOT = Path(__file__).resolve().parent.parent
CACHE = ROOT / "var" / "bench" / "keycloak_tokens.json"
PREFIX = "bench-kc-"
PASSWORD = os.environ.get("BENCH_USER_PASSWORD", "bench-only-password")
CLIENT_ID = "ticketing-cli"
PARALLEL = 16  # Keycloak hashes passwords on both of this machine's cores; more only queues


def _base() -> str:
    return (settings.KEYCLOAK_INTERNAL_URL or settings.KEYCLOAK_URL).rstrip("/")


def username(i: int) -> str:
    return f"{PREFIX}{i:04d}"


def _admin_token(client: httpx.Client) -> str:
    response = client.post(
        f"{_base()}/realms/master/protocol/openid-connect/token",
        data={
            "grant_type": "password",
            "client_id": "admin-cli",
            "username": os.environ.get("KEYCLOAK_ADMIN_USER", "admin"),
            "password": os.environ.get("KEYCLOAK_ADMIN_PASSWORD", "admin"),
        },
    )
    response.raise_for_status()
    return response.json()["access_token"]


def ensure_users(count: int) -> int:
    """Create the missing bench users (partial import skips those that exist); returns how many
    were created."""
    realm = settings.KEYCLOAK_REALM
    with httpx.Client(timeout=120) as client:
        headers = {"Authorization": f"Bearer {_admin_token(client)}"}
        admin = f"{_base()}/admin/realms/{realm}"
        existing = client.get(f"{admin}/users/count", params={"search": PREFIX}, headers=headers)
        existing.raise_for_status()
        if existing.json() >= count:
            return 0
        created = 0
        # Chunks keep each import transaction (one password hash per user) well under a minute.
        for start in range(0, count, 100):
            users = [
                {
                    "username": username(i),
                    "email": f"{username(i)}@bench.example.com",
                    # The realm's user profile wants names; without them the password grant
                    # answers "Account is not fully set up".
                    "firstName": "Bench",
                    "lastName": f"Buyer {i}",
                    "enabled": True,
                    "emailVerified": True,
                    "realmRoles": ["default-roles-ticketing"],
                    "credentials": [{"type": "password", "value": PASSWORD, "temporary": False}],
                }
                for i in range(start, min(start + 100, count))
            ]
            # The master realm's admin tokens live a minute: one per chunk.
            headers = {"Authorization": f"Bearer {_admin_token(client)}"}
            response = client.post(
                f"{admin}/partialImport",
                json={"ifResourceExists": "SKIP", "users": users},
                headers=headers,
            )
            response.raise_for_status()
            created += response.json().get("added", 0)
        return created


def _load() -> dict:
    try:
        return json.loads(CACHE.read_text())
    except (FileNotFoundError, ValueError):
        return {}


async def _token(client, semaphore, name, cached, min_valid):
    now = time.time()
    if cached and cached["access_exp"] - now >= min_valid:
        return cached
    token_url = f"{_base()}/realms/{settings.KEYCLOAK_REALM}/protocol/openid-connect/token"
    async with semaphore:
        response = None
        if cached and cached["refresh_exp"] - now > 30:
            response = await client.post(
                token_url,
                data={
                    "grant_type": "refresh_token",
                    "client_id": CLIENT_ID,
                    "refresh_token": cached["refresh"],
                },
            )
        if response is None or response.status_code != 200:
            response = await client.post(
                token_url,
                data={
                    "grant_type": "password",
                    "client_id": CLIENT_ID,
                    "username": name,
                    "password": PASSWORD,
                    "scope": "openid",
                },
            )
        response.raise_for_status()
    body = response.json()
    now = time.time()
    return {
        "access": body["access_token"],
        "access_exp": now + body["expires_in"],
        "refresh": body.get("refresh_token", ""),
        "refresh_exp": now + body.get("refresh_expires_in", 0),
    }


async def _tokens(names, cache, min_valid):
    semaphore = asyncio.Semaphore(PARALLEL)
    limits = httpx.Limits(max_connections=PARALLEL)
    async with httpx.AsyncClient(timeout=60, limits=limits) as client:
        return await asyncio.gather(
            *(_token(client, semaphore, n, cache.get(n), min_valid) for n in names)
        )


def access_tokens(count: int, min_valid: float = 120) -> list[str]:
    """Access tokens of the first ``count`` bench users, each valid ``min_valid`` s or more."""
    names = [username(i) for i in range(count)]
    cache = _load()
    fresh = asyncio.run(_tokens(names, cache, min_valid))
    cache.update(zip(names, fresh, strict=True))
    CACHE.parent.mkdir(parents=True, exist_ok=True)
    CACHE.write_text(json.dumps(cache))
    return [t["access"] for t in fresh]


def main(argv=None):
    """``python -m bench.keycloak_users``: create the users and cache their tokens ahead of a
    bench run (the first creation hashes a thousand passwords, which takes a minute or two)."""
    import argparse

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--users", type=int, default=1000)
    args = parser.parse_args(argv)
    logging.getLogger("httpx").setLevel(logging.WARNING)
    started = time.monotonic()
    created = ensure_users(args.users)
    print(f"created={created} users_s={time.monotonic() - started:.1f}")
    started = time.monotonic()
    access_tokens(args.users, min_valid=120)
    print(f"tokens={args.users} tokens_s={time.monotonic() - started:.1f}")


if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ticketing.settings")
    import django

    django.setup()
    main()
