"""Fixtures for the Keycloak tests: a real Keycloak (started by keycloak/keycloak.sh when the
realm does not answer), tokens from it, its admin REST API, and locally signed tokens for the
negative cases."""

from __future__ import annotations

import base64
import json
import subprocess
import time
import uuid
from pathlib import Path

import jwt
import pytest
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from django.conf import settings

from ticketing.auth import tokens

ROOT = Path(__file__).resolve().parents[2]
KEYCLOAK_SCRIPT = ROOT / "keycloak" / "keycloak.sh"
MASTER_ADMIN = ("admin", "admin")  # development-only bootstrap admin set by keycloak.sh

DEMO_USERS = {
    "organizer@example.com": "organizer",
    "organizer2@example.com": "organizer2",
    "buyer@example.com": "buyer",
    "buyer2@example.com": "buyer2",
    "admin@example.com": "admin",
}


def _realm_answers(base_url: str, realm: str) -> bool:
    url = f"{base_url}/realms/{realm}/.well-known/openid-configuration"
    try:
        return requests.get(url, timeout=3).status_code == 200
    except requests.RequestException:
        return False


class Keycloak:
    """The real Keycloak of the tests: tokens, the admin REST API, the JWKS."""

    def __init__(self, base_url: str, realm: str):
        self.base_url = base_url.rstrip("/")
        self.realm = realm
        self.issuer = f"{self.base_url}/realms/{realm}"
        self._admin_token: str | None = None
        self._admin_token_expires = 0.0

    def token_endpoint(self, base_url: str | None = None) -> str:
        base = (base_url or self.base_url).rstrip("/")
        return f"{base}/realms/{self.realm}/protocol/openid-connect/token"

    def password_grant(self, username, password, *, client_id="ticketing-cli", **extra):
        data = {
            "grant_type": "password",
            "client_id": client_id,
            "username": username,
            "password": password,
            "scope": "openid",
        }
        base_url = extra.pop("base_url", None)
        data.update(extra)
        return requests.post(self.token_endpoint(base_url), data=data, timeout=10)

    def access_token(self, username, password=None, **kwargs) -> str:
        password = password if password is not None else DEMO_USERS[username]
        response = self.password_grant(username, password, **kwargs)
        assert response.status_code == 200, response.text
        return response.json()["access_token"]

    # --- admin REST API (master realm admin) ---------------------------------------------
    def _admin_headers(self) -> dict:
        if self._admin_token is None or time.monotonic() > self._admin_token_expires:
            response = requests.post(
                f"{self.base_url}/realms/master/protocol/openid-connect/token",
                data={
                    "grant_type": "password",
                    "client_id": "admin-cli",
                    "username": MASTER_ADMIN[0],
                    "password": MASTER_ADMIN[1],
                },
                timeout=10,
            )
            assert response.status_code == 200, response.text
            body = response.json()
            self._admin_token = body["access_token"]
            self._admin_token_expires = time.monotonic() + body["expires_in"] - 10
        return {"Authorization": f"Bearer {self._admin_token}"}

    def admin(self, method: str, path: str, **kwargs) -> requests.Response:
        url = f"{self.base_url}/admin/realms/{self.realm}{path}"
        return requests.request(method, url, headers=self._admin_headers(), timeout=10, **kwargs)

    def user_id(self, username: str) -> str:
        response = self.admin("GET", "/users", params={"username": username, "exact": "true"})
        response.raise_for_status()
        (user,) = response.json()
        return user["id"]

    def set_realm_role(self, username: str, role: str, present: bool) -> None:
        role_rep = self.admin("GET", f"/roles/{role}")
        role_rep.raise_for_status()
        method = "POST" if present else "DELETE"
        path = f"/users/{self.user_id(username)}/role-mappings/realm"
        self.admin(method, path, json=[role_rep.json()]).raise_for_status()

    def jwks(self) -> dict:
        url = f"{self.issuer}/protocol/openid-connect/certs"
        return requests.get(url, timeout=10).json()

    def active_signing_kid(self) -> str:
        response = self.admin("GET", "/keys")
        response.raise_for_status()
        return response.json()["active"]["RS256"]

    def add_rsa_key_provider(self, name: str, *, priority: int, active: bool, pem: str | None):
        """Adds an RS256 key provider to the realm; returns (component id, kid)."""
        realm_id = self.admin("GET", "").json()["id"]
        config = {
            "priority": [str(priority)],
            "enabled": ["true"],
            "active": ["true" if active else "false"],
            "algorithm": ["RS256"],
        }
        provider = "rsa-generated"
        if pem is not None:
            provider = "rsa"
            config["privateKey"] = [pem]
            config["keyUse"] = ["sig"]
        response = self.admin(
            "POST",
            "/components",
            json={
                "name": name,
                "providerId": provider,
                "providerType": "org.keycloak.keys.KeyProvider",
                "parentId": realm_id,
                "config": config,
            },
        )
        assert response.status_code == 201, response.text
        component_id = response.headers["Location"].rstrip("/").rsplit("/", 1)[-1]
        keys = self.admin("GET", "/keys").json()["keys"]
        (kid,) = [k["kid"] for k in keys if k.get("providerId") == component_id]
        return component_id, kid

    def remove_component(self, component_id: str) -> None:
        self.admin("DELETE", f"/components/{component_id}")


@pytest.fixture(scope="session")
def keycloak() -> Keycloak:
    """A running Keycloak with the ``ticketing`` realm: reused, else started by keycloak.sh."""
    base_url, realm = settings.KEYCLOAK_URL, settings.KEYCLOAK_REALM
    if not _realm_answers(base_url, realm):
        result = subprocess.run(
            [str(KEYCLOAK_SCRIPT), "start"],
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        if result.returncode != 0 or not _realm_answers(base_url, realm):
            pytest.fail(
                f"could not start Keycloak: {result.stdout.strip()} {result.stderr.strip()}",
                pytrace=False,
            )
    return Keycloak(base_url, realm)


@pytest.fixture(autouse=True)
def _fresh_jwks_cache():
    """Each test starts with an empty in-process key cache (as a fresh Django process)."""
    tokens.reset_jwks_cache()
    yield
    tokens.reset_jwks_cache()


# --- locally signed tokens ----------------------------------------------------------------


def _new_rsa_key():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _pem(private_key) -> str:
    return private_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    ).decode()


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class Forger:
    """Signs tokens locally. ``kid`` defaults to the key imported into the realm as a passive
    key, so Keycloak's own JWKS publishes its public half and only the claims decide."""

    def __init__(self, keycloak: Keycloak, private_key, kid: str):
        self.keycloak = keycloak
        self.private_key = private_key
        self.kid = kid

    def claims(self, **overrides) -> dict:
        now = int(time.time())
        claims = {
            "iss": self.keycloak.issuer,
            "aud": ["ticketing-api", "account"],
            "sub": f"forged-{uuid.uuid4()}",
            "typ": "Bearer",
            "azp": "ticketing-cli",
            "iat": now,
            "exp": now + 300,
            "preferred_username": f"forged-{uuid.uuid4().hex[:8]}@example.com",
            "email": "forged@example.com",
            "given_name": "Forged",
            "family_name": "Token",
            "realm_access": {"roles": ["customer"]},
        }
        claims.update(overrides)
        return {k: v for k, v in claims.items() if v is not None}

    def sign(self, claims: dict | None = None, *, key=None, kid=None, alg="RS256") -> str:
        return jwt.encode(
            claims if claims is not None else self.claims(),
            key or self.private_key,
            algorithm=alg,
            headers={"kid": kid or self.kid},
        )

    @staticmethod
    def unsigned(header: dict, claims: dict, signature: bytes = b"") -> str:
        parts = [
            b64url(json.dumps(header).encode()),
            b64url(json.dumps(claims).encode()),
        ]
        return ".".join([*parts, b64url(signature)])


@pytest.fixture(scope="session")
def forger(keycloak):
    """A local RSA key imported into the realm as a passive (verify-only) key for the session."""
    private_key = _new_rsa_key()
    component_id, kid = keycloak.add_rsa_key_provider(
        f"tests-passive-{uuid.uuid4().hex[:8]}", priority=-100, active=False, pem=_pem(private_key)
    )
    assert any(k["kid"] == kid for k in keycloak.jwks()["keys"]), "passive key not published"
    yield Forger(keycloak, private_key, kid)
    keycloak.remove_component(component_id)


@pytest.fixture(scope="session")
def other_rsa_key():
    """A key Keycloak knows nothing about."""
    return _new_rsa_key()


@pytest.fixture
def api_get(client):
    """GET through Django with an optional bearer token (or a raw Authorization header)."""

    def get(path="/api/v1/me/", token=None, authorization=None):
        headers = {}
        if authorization is not None:
            headers["HTTP_AUTHORIZATION"] = authorization
        elif token is not None:
            headers["HTTP_AUTHORIZATION"] = f"Bearer {token}"
        return client.get(path, **headers)

    return get
