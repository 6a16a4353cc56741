"""The browser-login pieces below the browser: ID-token checks of the OIDC backend, the logout
URL, the login templates and the fallback to Django's own login without Keycloak."""

import time
from urllib.parse import parse_qs, urlsplit

import jwt
import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AnonymousUser
from django.contrib.sessions.backends.db import SessionStore
from django.core.exceptions import SuspiciousOperation
from django.template.loader import render_to_string
from django.test import RequestFactory

from ticketing.auth.oidc import KeycloakOIDCBackend, keycloak_logout_url


def _id_claims(forger, **overrides):
    now = int(time.time())
    base = {
        "aud": "ticketing-web",
        "azp": "ticketing-web",
        "typ": "ID",
        "nonce": "n-123",
        "iat": now,
        "exp": now + 300,
    }
    return forger.claims(**{**base, **overrides})


@pytest.mark.keycloak
def test_backend_accepts_a_valid_id_token_and_checks_the_nonce(forger):
    backend = KeycloakOIDCBackend()
    token = forger.sign(_id_claims(forger))
    assert backend.verify_token(token, nonce="n-123")["typ"] == "ID"
    with pytest.raises(SuspiciousOperation):
        backend.verify_token(token, nonce="another")


@pytest.mark.keycloak
def test_backend_refuses_id_tokens_for_other_clients_and_access_tokens(keycloak, forger):
    backend = KeycloakOIDCBackend()
    real_cli_id_token = keycloak.password_grant("buyer@example.com", "buyer").json()["id_token"]
    with pytest.raises(SuspiciousOperation):
        backend.verify_token(real_cli_id_token, nonce=None)  # audience ticketing-cli
    with pytest.raises(SuspiciousOperation):
        backend.verify_token(forger.sign(_id_claims(forger, azp="ticketing-cli")), nonce="n-123")
    with pytest.raises(SuspiciousOperation):
        backend.verify_token(forger.sign(_id_claims(forger, typ="Bearer")), nonce="n-123")
    with pytest.raises(SuspiciousOperation):
        backend.verify_token(keycloak.access_token("buyer@example.com"), nonce=None)


@pytest.mark.keycloak
@pytest.mark.django_db
def test_backend_builds_the_user_from_id_and_access_token(keycloak):
    backend = KeycloakOIDCBackend()
    access_token = keycloak.access_token("organizer@example.com")
    access_claims = jwt.decode(access_token, options={"verify_signature": False})
    id_claims = {"sub": access_claims["sub"], "email": "organizer@example.com"}
    user = backend.get_or_create_user(access_token, "unused", id_claims)
    assert user.username == "organizer@example.com"
    assert user.is_staff
    assert backend.filter_users_by_claims({"sub": access_claims["sub"]}).get() == user
    with pytest.raises(SuspiciousOperation):
        backend.get_or_create_user(access_token, "unused", {"sub": "someone-else"})


def _request_with_session(path="/"):
    request = RequestFactory().post(path)
    request.session = SessionStore()
    return request


def test_logout_url_ends_the_keycloak_session(settings):
    request = _request_with_session()
    request.session["oidc_id_token"] = "the.id.token"
    url = keycloak_logout_url(request, post_logout_redirect="/admin/login/")
    parts = urlsplit(url)
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == settings.OIDC_OP_LOGOUT_ENDPOINT
    query = parse_qs(parts.query)
    assert query["id_token_hint"] == ["the.id.token"]
    assert query["post_logout_redirect_uri"] == ["http://testserver/admin/login/"]
    assert query["client_id"] == [settings.OIDC_RP_CLIENT_ID]


def test_logout_url_without_an_id_token_stays_local(settings):
    expected = f"http://testserver{settings.LOGOUT_REDIRECT_URL}"
    assert keycloak_logout_url(_request_with_session()) == expected


@pytest.mark.django_db
def test_admin_login_page_offers_keycloak(client, settings):
    page = client.get("/admin/login/?next=/admin/").content.decode()
    assert 'id="keycloak-login"' in page
    assert "/oidc/authenticate/?next=/admin/" in page
    assert 'name="password"' in page  # local accounts still work

    settings.KEYCLOAK_ENABLED = False
    page = client.get("/admin/login/?next=/admin/").content.decode()
    assert "keycloak-login" not in page
    assert 'name="password"' in page


def test_login_button_include(settings):
    request = RequestFactory().get("/events/42/")
    html = render_to_string("auth/login_button.html", {"user": AnonymousUser(), "request": request})
    assert "/oidc/authenticate/?next=/events/42/" in html
    assert "Log in with Keycloak" in html

    settings.KEYCLOAK_ENABLED = False
    html = render_to_string("auth/login_button.html", {"user": AnonymousUser(), "request": request})
    assert "/admin/login/?next=/events/42/" in html

    user = get_user_model()(username="bella", first_name="Bella", last_name="Buyer")
    html = render_to_string("auth/login_button.html", {"user": user, "request": request})
    assert 'action="/oidc/logout/"' in html
    assert "Bella Buyer" in html
