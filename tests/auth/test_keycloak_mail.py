"""Keycloak's own mail (password reset, verify email) goes through the development SMTP sink."""

import json
import subprocess
import uuid

import pytest
from django.conf import settings

from tests.auth.conftest import KEYCLOAK_SCRIPT, ROOT
from tests.mail_sink import now_ns, wait_for_mail


def test_realm_export_sends_mail_through_the_sink():
    realm = json.loads((ROOT / "keycloak" / "realm-ticketing.json").read_text())

    smtp = realm["smtpServer"]

    assert (smtp["host"], smtp["port"]) == ("127.0.0.1", "1025")
    assert "@" in smtp["from"]


@pytest.fixture
def mailbox_user(keycloak):
    """A throwaway realm user with an address only this test uses; deleted afterwards."""
    address = f"reset-{uuid.uuid4().hex[:10]}@example.test"
    response = keycloak.admin(
        "POST",
        "/users",
        json={"username": address, "email": address, "enabled": True, "emailVerified": True},
    )
    assert response.status_code == 201, response.text
    user_id = response.headers["Location"].rstrip("/").rsplit("/", 1)[-1]
    yield user_id, address
    keycloak.admin("DELETE", f"/users/{user_id}")


def test_password_reset_mail_lands_in_the_sink(keycloak, mailbox_user):
    # Given the realm configured by the script (an existing realm, as on a developer's machine)
    result = subprocess.run(
        [str(KEYCLOAK_SCRIPT), "smtp"], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert keycloak.admin("GET", "").json()["smtpServer"]["port"] == "1025"
    user_id, address = mailbox_user
    since = now_ns()

    # When Keycloak is asked to send the user a password reset link
    response = keycloak.admin(
        "PUT", f"/users/{user_id}/execute-actions-email", json=["UPDATE_PASSWORD"]
    )

    # Then Keycloak accepted it and the mail with the action link is in the sink
    assert response.status_code == 204, response.text
    message = wait_for_mail(settings.MAIL_SINK_DIR, since, lambda m: m["To"] == address)
    body = message.get_body(preferencelist=("plain", "html")).get_content()
    assert f"/realms/{keycloak.realm}/login-actions/action-token?key=" in body
    assert "tickets@localhost" in message["From"]
