"""The shipped realm file, as the real Keycloak imported it."""

import pytest
import requests
from django.conf import settings

pytestmark = pytest.mark.keycloak


def test_realm_answers_with_the_configured_issuer(keycloak):
    url = f"{keycloak.issuer}/.well-known/openid-configuration"
    config = requests.get(url, timeout=10).json()
    assert config["issuer"] == settings.KEYCLOAK_ISSUER
    assert config["jwks_uri"] == settings.OIDC_OP_JWKS_ENDPOINT
    assert config["authorization_endpoint"] == settings.OIDC_OP_AUTHORIZATION_ENDPOINT
    assert config["token_endpoint"] == settings.OIDC_OP_TOKEN_ENDPOINT
    assert config["end_session_endpoint"] == settings.OIDC_OP_LOGOUT_ENDPOINT
    assert "S256" in config["code_challenge_methods_supported"]


def test_realm_settings(keycloak):
    realm = keycloak.admin("GET", "").json()
    assert realm["registrationAllowed"] is True
    assert realm["bruteForceProtected"] is True
    assert realm["accessTokenLifespan"] == 300
    roles = {role["name"] for role in keycloak.admin("GET", "/roles").json()}
    assert {"customer", "organizer", "admin"} <= roles
    default_roles = keycloak.admin("GET", "/roles/default-roles-ticketing/composites").json()
    assert "customer" in {role["name"] for role in default_roles}


def _client(keycloak, client_id):
    (client,) = keycloak.admin("GET", "/clients", params={"clientId": client_id}).json()
    return client


def test_web_client_is_confidential_code_flow_with_pkce(keycloak):
    client = _client(keycloak, "ticketing-web")
    assert client["publicClient"] is False
    assert client["standardFlowEnabled"] is True
    assert client["implicitFlowEnabled"] is False
    assert client["directAccessGrantsEnabled"] is False
    assert client["attributes"]["pkce.code.challenge.method"] == "S256"
    assert "http://localhost:8000/*" in client["redirectUris"]
    assert "http://127.0.0.1:8000/*" in client["redirectUris"]
    assert "http://localhost:8000/*" in client["attributes"]["post.logout.redirect.uris"]


def test_web_client_refuses_direct_grants(keycloak):
    response = keycloak.password_grant(
        "buyer@example.com",
        "buyer",
        client_id="ticketing-web",
        client_secret=settings.OIDC_RP_CLIENT_SECRET,
    )
    assert response.status_code in (400, 401)
    assert response.json()["error"] == "unauthorized_client"


def test_cli_client_is_public_with_direct_grants(keycloak):
    client = _client(keycloak, "ticketing-cli")
    assert client["publicClient"] is True
    assert client["directAccessGrantsEnabled"] is True
    assert client["standardFlowEnabled"] is False


@pytest.mark.parametrize(
    ("username", "roles"),
    [
        ("organizer@example.com", {"customer", "organizer"}),
        ("organizer2@example.com", {"customer", "organizer"}),
        ("buyer@example.com", {"customer"}),
        ("buyer2@example.com", {"customer"}),
        ("admin@example.com", {"customer", "admin"}),
    ],
)
def test_demo_users_get_tokens_with_audience_and_roles(keycloak, username, roles):
    import jwt

    token = keycloak.access_token(username)
    claims = jwt.decode(token, options={"verify_signature": False})
    assert jwt.get_unverified_header(token)["alg"] == "RS256"
    assert "ticketing-api" in claims["aud"]
    assert claims["iss"] == settings.KEYCLOAK_ISSUER
    assert claims["typ"] == "Bearer"
    assert claims["preferred_username"] == username
    assert claims["email"] == username
    assert claims["email_verified"] is True
    assert claims["given_name"] and claims["family_name"]
    assert claims["exp"] - claims["iat"] == 300
    platform_roles = set(claims["realm_access"]["roles"]) & {"customer", "organizer", "admin"}
    assert platform_roles == roles
