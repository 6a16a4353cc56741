"""Production settings pass Django's deployment checklist, and /readyz keeps its details for
operators: loopback callers and staff."""

import os
import secrets
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from django.test import Client

ROOT = Path(__file__).resolve().parents[2]

PRODUCTION_ENV = {
    "DEVELOPMENT": "false",
    "DEBUG": "false",
    "SECRET_KEY": secrets.token_urlsafe(50),
    "ALLOWED_HOSTS": "tickets.example.com",
    "CSRF_TRUSTED_ORIGINS": "https://tickets.example.com",
    "PUBLIC_URL": "https://tickets.example.com",
}


def test_check_deploy_is_clean_with_production_values():
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    # Empty like a copied .env.example: production must still be safe.
    for name in ("SECURE_SSL_REDIRECT", "SECURE_HSTS_SECONDS", "SESSION_COOKIE_SECURE"):
        env[name] = ""
    env.update(PRODUCTION_ENV, DJANGO_SETTINGS_MODULE="ticketing.settings")

    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout, result.stdout + result.stderr


@pytest.fixture
def broken_redis(settings):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # nothing listens once the socket is closed
    settings.REDIS_URL = f"redis://127.0.0.1:{port}/0"


@pytest.mark.django_db
def test_readyz_trusts_the_address_nginx_appends_not_one_the_client_sent(broken_redis):
    # Through nginx: REMOTE_ADDR is the proxy; the forged "127.0.0.1" comes first.
    response = Client().get("/readyz", HTTP_X_FORWARDED_FOR="127.0.0.1, 203.0.113.7")

    assert response.status_code == 503
    assert response.json() == {"status": "unavailable"}


@pytest.mark.django_db
def test_readyz_details_are_for_loopback_and_staff_only(broken_redis, make_user):
    remote = Client(REMOTE_ADDR="203.0.113.7").get("/readyz")
    assert remote.status_code == 503
    assert remote.json() == {"status": "unavailable"}

    staff = Client(REMOTE_ADDR="203.0.113.7")
    staff.force_login(make_user(is_staff=True), backend="django.contrib.auth.backends.ModelBackend")
    for client in (staff, Client()):
        body = client.get("/readyz").json()
        assert body["failed"] == ["redis"]
        assert body["checks"]["redis"]["error"]
