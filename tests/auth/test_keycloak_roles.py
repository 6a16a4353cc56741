"""Realm roles follow Keycloak: a role removed there is gone here at the next token."""

import pytest
from django.contrib.auth import get_user_model

pytestmark = [pytest.mark.keycloak, pytest.mark.django_db]

USERNAME = "organizer2@example.com"


def test_removed_organizer_role_is_gone_after_the_next_token(keycloak, api_get):
    first = api_get(token=keycloak.access_token(USERNAME))
    assert first.status_code == 200
    assert "organizer" in first.json()["roles"]
    user = get_user_model().objects.get(pk=first.json()["id"])
    assert user.is_staff
    assert user.groups.filter(name="Organizers").exists()

    keycloak.set_realm_role(USERNAME, "organizer", present=False)
    try:
        second = api_get(token=keycloak.access_token(USERNAME))
        assert second.status_code == 200
        assert second.json()["id"] == first.json()["id"]
        assert "organizer" not in second.json()["roles"]
        user.refresh_from_db()
        assert not user.is_staff
        assert not user.groups.filter(name="Organizers").exists()
        assert second.json()["is_organizer"] is False
    finally:
        keycloak.set_realm_role(USERNAME, "organizer", present=True)

    third = api_get(token=keycloak.access_token(USERNAME))
    assert third.json()["is_organizer"] is True


def test_granted_admin_role_makes_a_superuser_and_removal_undoes_it(keycloak, api_get):
    keycloak.set_realm_role("buyer2@example.com", "admin", present=True)
    try:
        body = api_get(token=keycloak.access_token("buyer2@example.com")).json()
        assert body["is_superuser"] is True
        assert body["is_staff"] is True
    finally:
        keycloak.set_realm_role("buyer2@example.com", "admin", present=False)
    body = api_get(token=keycloak.access_token("buyer2@example.com")).json()
    assert body["is_superuser"] is False
    assert body["is_staff"] is False
