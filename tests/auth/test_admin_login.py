"""The admin's local password form: locked out after repeated failures, off beside Keycloak
unless allowed, and no demo accounts with known passwords outside development (issue 10)."""

import pytest
from axes.models import AccessAttempt
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.test import Client

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_account(django_user_model):
    return django_user_model.objects.create_superuser("admin", "admin@example.com", "right-pw")


def log_in(client, password, username="admin"):
    return client.post(
        "/admin/login/?next=/admin/",
        {"username": username, "password": password, "next": "/admin/"},
    )


def logged_in(client) -> bool:
    return client.get("/admin/").status_code == 200


def test_repeated_wrong_passwords_lock_the_account_out(admin_account, settings):
    # given the local form is on (development) with a limit of 5 failures
    assert settings.ALLOW_LOCAL_LOGIN and settings.AXES_FAILURE_LIMIT == 5
    # a typo or four do not matter: a success starts the count again
    for _ in range(4):
        log_in(Client(), "typo")
    assert log_in(Client(), "right-pw").status_code == 302
    attacker = Client()
    # when an attacker guesses wrong 5 times, then the 5th failure locks the account
    for guess in ["admin", "password", "123456", "letmein"]:
        assert log_in(attacker, guess).status_code == 200
    assert log_in(attacker, "qwerty").status_code == 429
    # and even the right password is refused, from any client, and nobody is logged in
    assert log_in(attacker, "right-pw").status_code == 429
    owner = Client()
    assert log_in(owner, "right-pw").status_code == 429
    assert not logged_in(attacker) and not logged_in(owner)
    assert AccessAttempt.objects.get(username="admin").failures_since_start >= 5


def test_local_form_is_off_beside_keycloak_unless_allowed(admin_account, settings):
    # given Keycloak is configured and local login is not allowed (the production default)
    settings.KEYCLOAK_ENABLED = True
    settings.ALLOW_LOCAL_LOGIN = False
    client = Client()
    # then the login page offers Keycloak only
    page = client.get("/admin/login/?next=/admin/").content.decode()
    assert 'id="keycloak-login"' in page
    assert 'name="password"' not in page
    # and a POST with the right password (the form's fields sent by hand) logs nobody in
    assert log_in(client, "right-pw").status_code == 200
    assert not logged_in(client)
    # without Keycloak the local form is the only door, so it stays open
    settings.KEYCLOAK_ENABLED = False
    assert 'name="password"' in client.get("/admin/login/").content.decode()
    assert log_in(client, "right-pw").status_code == 302
    assert logged_in(client)


def test_load_demo_outside_development_has_no_local_password_accounts(settings):
    # given a development run left the demo accounts with their public passwords
    call_command("load_demo")
    assert get_user_model().objects.get(username="admin").check_password("admin")
    # when the demo is loaded with DEVELOPMENT off
    settings.DEVELOPMENT = False
    call_command("load_demo")
    # then no account can log in with a password, the demo organizer still owns its events
    users = get_user_model().objects.all()
    assert users.exists()
    assert not [u.username for u in users if u.has_usable_password()]
    assert users.get(username="organizer@example.com").organized_events.exists()


def test_load_demo_outside_development_creates_no_local_accounts(settings):
    settings.DEVELOPMENT = False
    call_command("load_demo")
    usernames = set(get_user_model().objects.values_list("username", flat=True))
    assert usernames == {"organizer@example.com"}  # owns the demo events; Keycloak login only
    assert not get_user_model().objects.get(username="organizer@example.com").has_usable_password()
