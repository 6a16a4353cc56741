"""Bearer-token authentication of the API against tokens from the real Keycloak."""

import hashlib
import hmac
import json
import time

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from django.contrib.auth import get_user_model

from ticketing.auth import tokens
from ticketing.auth.models import KeycloakIdentity

pytestmark = [pytest.mark.keycloak, pytest.mark.django_db]


def _assert_unauthorized(response, *, invalid_token=True):
    assert response.status_code == 401, response.content
    challenge = response["WWW-Authenticate"]
    assert challenge.startswith('Bearer realm="ticketing"')
    assert ('error="invalid_token"' in challenge) is invalid_token
    assert response.json()["error"]["code"] == "not_authenticated"


# --- accepted ---------------------------------------------------------------------------------


def test_buyer_token_is_accepted_and_creates_the_user(keycloak, api_get):
    token = keycloak.access_token("buyer@example.com")
    claims = jwt.decode(token, options={"verify_signature": False})
    assert not KeycloakIdentity.objects.filter(sub=claims["sub"]).exists()

    response = api_get(token=token)

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["username"] == "buyer@example.com"
    assert body["email"] == "buyer@example.com"
    assert body["name"] == "Bella Buyer"
    assert body["roles"] == ["customer"]
    assert body["is_staff"] is False
    assert body["is_organizer"] is False
    identity = KeycloakIdentity.objects.select_related("user").get(sub=claims["sub"])
    assert identity.user.pk == body["id"]
    assert not identity.user.has_usable_password()

    # Seen again: the same user, nothing new.
    again = api_get(token=keycloak.access_token("buyer@example.com"))
    assert again.json()["id"] == body["id"]
    assert get_user_model().objects.filter(username="buyer@example.com").count() == 1


@pytest.mark.parametrize(
    ("username", "staff", "superuser", "organizer"),
    [
        ("organizer@example.com", True, False, True),
        ("organizer2@example.com", True, False, True),
        ("buyer2@example.com", False, False, False),
        ("admin@example.com", True, True, True),
    ],
)
def test_each_demo_user_is_accepted_with_its_roles(
    keycloak, api_get, username, staff, superuser, organizer
):
    response = api_get(token=keycloak.access_token(username))
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["username"] == username
    assert (body["is_staff"], body["is_superuser"], body["is_organizer"]) == (
        staff,
        superuser,
        organizer,
    )
    user = get_user_model().objects.get(pk=body["id"])
    assert user.groups.filter(name="Organizers").exists() is ("organizer" in body["roles"])


def test_organizers_group_holds_admin_permissions(keycloak, api_get):
    api_get(token=keycloak.access_token("organizer@example.com"))
    user = get_user_model().objects.get(username="organizer@example.com")
    assert user.is_staff
    assert user.has_perm("ticketing.add_event")
    assert user.has_perm("ticketing.change_event")
    assert user.has_perm("seatmaps.change_seatmap")
    assert user.has_perm("registration_worker.view_booking")
    assert not user.has_perm("registration_worker.delete_booking")
    assert not user.has_perm("auth.change_user")


def test_profile_changes_in_keycloak_follow(keycloak, api_get):
    user_path = f"/users/{keycloak.user_id('buyer2@example.com')}"
    original = keycloak.admin("GET", user_path).json()
    first = api_get(token=keycloak.access_token("buyer2@example.com")).json()
    try:
        keycloak.admin(
            "PUT", user_path, json={**original, "firstName": "Renamed"}
        ).raise_for_status()
        second = api_get(token=keycloak.access_token("buyer2@example.com")).json()
    finally:
        keycloak.admin("PUT", user_path, json=original).raise_for_status()
    assert second["id"] == first["id"]
    assert second["first_name"] == "Renamed"
    assert second["name"] == "Renamed Buyer"


def test_locally_checked_claims_accept_a_well_formed_token(forger, api_get):
    """The control case for the forged tokens below: signed with the realm's passive test key
    and carrying valid claims, it is accepted, so each refusal below is the claim's doing."""
    response = api_get(token=forger.sign())
    assert response.status_code == 200, response.content


def test_no_keycloak_call_per_request(keycloak, api_get):
    token = keycloak.access_token("buyer@example.com")
    for _ in range(5):
        assert api_get(token=token).status_code == 200
    assert tokens.jwks_cache().fetch_count == 1


def test_a_token_seen_before_costs_no_database_query(keycloak, api_get, django_assert_num_queries):
    token = keycloak.access_token("buyer@example.com")
    first = api_get(token=token)
    assert first.status_code == 200, first.content

    # the hot path's promise: validated once per token, its user cached until it expires
    with django_assert_num_queries(0):
        again = api_get(token=token)
    assert again.status_code == 200
    assert again.json()["id"] == first.json()["id"]
    # another token of the same user is validated (and its claims synchronised) afresh
    with django_assert_num_queries(1):
        assert api_get(token=keycloak.access_token("buyer@example.com")).status_code == 200


def test_a_cached_token_is_refused_once_it_expires(forger, api_get, settings):
    settings.KEYCLOAK_JWT_LEEWAY_SECONDS = 0
    token = forger.sign(forger.claims(exp=int(time.time()) + 2))
    assert api_get(token=token).status_code == 200

    time.sleep(3)

    _assert_unauthorized(api_get(token=token))


# --- refused ----------------------------------------------------------------------------------


def test_no_token_is_401_with_a_bearer_challenge(keycloak, api_get):
    _assert_unauthorized(api_get(), invalid_token=False)


@pytest.mark.parametrize(
    "authorization",
    ["Bearer", "Bearer not-a-jwt", "Bearer a.b.c", "Bearer two tokens", "Bearer \u00e9t\u00e9"],
)
def test_garbage_is_401(keycloak, api_get, authorization):
    _assert_unauthorized(api_get(authorization=authorization))


def test_tampered_signature_is_401(keycloak, api_get):
    header, payload, signature = keycloak.access_token("buyer@example.com").split(".")
    claims = json.loads(jwt.utils.base64url_decode(payload))
    claims["realm_access"]["roles"].append("admin")
    forged_payload = jwt.utils.base64url_encode(json.dumps(claims).encode()).decode()
    _assert_unauthorized(api_get(token=f"{header}.{forged_payload}.{signature}"))
    # And a flipped signature byte on the untouched token.
    flipped = signature[:-2] + ("A" if signature[-2] != "A" else "B") + signature[-1]
    _assert_unauthorized(api_get(token=f"{header}.{payload}.{flipped}"))


def test_expired_token_is_401(forger, api_get):
    now = int(time.time())
    expired = forger.sign(forger.claims(iat=now - 600, exp=now - 120))
    _assert_unauthorized(api_get(token=expired))


def test_expiry_has_a_small_leeway(forger, api_get):
    now = int(time.time())
    just_expired = forger.sign(forger.claims(iat=now - 300, exp=now - 5))
    assert api_get(token=just_expired).status_code == 200


def test_not_yet_valid_token_is_401(forger, api_get):
    _assert_unauthorized(api_get(token=forger.sign(forger.claims(nbf=int(time.time()) + 600))))


def test_wrong_audience_is_401(keycloak, forger, api_get):
    # A real Keycloak token from a client without the audience mapper (the realm's admin-cli).
    real = keycloak.access_token("buyer@example.com", client_id="admin-cli")
    assert "ticketing-api" not in (
        jwt.decode(real, options={"verify_signature": False}).get("aud") or []
    )
    _assert_unauthorized(api_get(token=real))
    _assert_unauthorized(api_get(token=forger.sign(forger.claims(aud=["account"]))))
    _assert_unauthorized(api_get(token=forger.sign(forger.claims(aud=None))))


def test_wrong_issuer_is_401(keycloak, forger, api_get):
    # Real and validly signed, but issued for another address of the server.
    real = keycloak.access_token("buyer@example.com", base_url="http://127.0.0.1:8180")
    assert jwt.decode(real, options={"verify_signature": False})["iss"].startswith("http://127.")
    _assert_unauthorized(api_get(token=real))
    other_realm = forger.claims(iss=keycloak.issuer.replace("/ticketing", "/master"))
    _assert_unauthorized(api_get(token=forger.sign(other_realm)))


def test_id_and_refresh_tokens_are_not_access_tokens(keycloak, forger, api_get):
    response = keycloak.password_grant("buyer@example.com", "buyer")
    body = response.json()
    _assert_unauthorized(api_get(token=body["id_token"]))  # audience ticketing-cli, typ ID
    _assert_unauthorized(api_get(token=body["refresh_token"]))  # HS512, typ Refresh
    _assert_unauthorized(api_get(token=forger.sign(forger.claims(typ="ID"))))


def test_alg_none_is_401(keycloak, forger, api_get):
    claims = forger.claims()
    for alg in ("none", "None", "NONE"):
        token = forger.unsigned({"alg": alg, "typ": "JWT", "kid": forger.kid}, claims)
        _assert_unauthorized(api_get(token=token))
    real_kid = keycloak.active_signing_kid()
    token = forger.unsigned({"alg": "none", "kid": real_kid}, claims)
    _assert_unauthorized(api_get(token=token))


def test_hs256_signed_with_the_public_key_is_401(keycloak, forger, api_get):
    """Algorithm confusion: HMAC with the realm's public key as the secret."""
    for kid, public_key in [
        (forger.kid, forger.private_key.public_key()),
        (keycloak.active_signing_kid(), None),
    ]:
        if public_key is None:
            jwk = next(k for k in keycloak.jwks()["keys"] if k["kid"] == kid)
            public_key = jwt.PyJWK(jwk).key
        pem = public_key.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        header = {"alg": "HS256", "typ": "JWT", "kid": kid}
        signing_input = ".".join(
            jwt.utils.base64url_encode(json.dumps(part).encode()).decode()
            for part in (header, forger.claims())
        )
        signature = hmac.new(pem, signing_input.encode(), hashlib.sha256).digest()
        token = f"{signing_input}.{jwt.utils.base64url_encode(signature).decode()}"
        _assert_unauthorized(api_get(token=token))


def test_other_key_with_the_realm_kid_is_401(keycloak, other_rsa_key, forger, api_get):
    real_kid = keycloak.active_signing_kid()
    token = forger.sign(forger.claims(), key=other_rsa_key, kid=real_kid)
    _assert_unauthorized(api_get(token=token))
    token = forger.sign(forger.claims(), key=other_rsa_key)  # the passive test key's kid
    _assert_unauthorized(api_get(token=token))


def test_unknown_kid_refetches_at_most_once_per_interval(
    keycloak, other_rsa_key, forger, api_get, settings
):
    settings.KEYCLOAK_JWKS_MIN_REFETCH_SECONDS = 60
    assert api_get(token=keycloak.access_token("buyer@example.com")).status_code == 200
    cache = tokens.jwks_cache()
    assert cache.fetch_count == 1
    for i in range(5):
        token = forger.sign(forger.claims(), key=other_rsa_key, kid=f"unknown-{i}")
        _assert_unauthorized(api_get(token=token))
    assert cache.fetch_count == 1  # within the interval: no fetch at all for unknown kids


# --- key rotation -----------------------------------------------------------------------------


def test_key_rotation_is_picked_up_without_restart(keycloak, api_get, settings):
    settings.KEYCLOAK_JWKS_MIN_REFETCH_SECONDS = 1
    assert api_get(token=keycloak.access_token("buyer@example.com")).status_code == 200
    cache = tokens.jwks_cache()
    assert cache.fetch_count == 1
    old_kid = keycloak.active_signing_kid()

    component_id, new_kid = keycloak.add_rsa_key_provider(
        "tests-rotated", priority=1000, active=True, pem=None
    )
    try:
        assert keycloak.active_signing_kid() == new_kid != old_kid
        time.sleep(1.1)  # past the refetch interval since the first fetch
        token = keycloak.access_token("buyer@example.com")
        assert jwt.get_unverified_header(token)["kid"] == new_kid

        assert api_get(token=token).status_code == 200
        assert cache.fetch_count == 2  # exactly one refetch for the new kid
        assert api_get(token=token).status_code == 200
        assert cache.fetch_count == 2
    finally:
        keycloak.remove_component(component_id)
