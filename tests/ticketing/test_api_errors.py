"""Every answer under /api/ is the JSON error format, whatever broke: the input, the path, the
size of the body, or a service the API depends on. Pages outside /api/ keep Django's HTML."""

import socket
import time

import jwt
import pytest
import redis
from cryptography.hazmat.primitives.asymmetric import rsa
from django.test import Client
from rest_framework.test import APIClient

from shared import locks
from tests.conftest import seat_ids
from ticketing.auth import tokens

pytestmark = pytest.mark.django_db


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]  # nothing listens once the socket is closed


def assert_error(response, status: int, code: str | None = None) -> dict:
    assert response.status_code == status, response.content[:300]
    assert response["Content-Type"].startswith("application/json"), response["Content-Type"]
    error = response.json()["error"]
    assert set(error) == {"code", "message", "details"}
    if code is not None:
        assert error["code"] == code, error
    return error


@pytest.fixture
def buyer_client(make_user):
    client = APIClient()
    client.force_authenticate(make_user())
    return client


def test_deeply_nested_json_is_a_400_not_a_recursion_crash(buyer_client, seated_event):
    body = "[" * 10_000  # 10 KB

    response = buyer_client.post(
        f"/api/v1/events/{seated_event.pk}/holds/", body, content_type="application/json"
    )

    assert_error(response, 400, "malformed_request")


def test_a_json_body_over_the_upload_limit_is_a_413(buyer_client, seated_event, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    body = '{"seats": [' + ",".join(["1"] * 1000) + "]}"

    response = buyer_client.post(
        f"/api/v1/events/{seated_event.pk}/holds/", body, content_type="application/json"
    )

    assert_error(response, 413, "request_too_large")


def test_a_form_body_over_the_upload_limit_is_a_413(buyer_client, seated_event, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000

    response = buyer_client.post(
        f"/api/v1/events/{seated_event.pk}/holds/",
        "seats=" + "1" * 2000,
        content_type="application/x-www-form-urlencoded",
    )

    assert_error(response, 413, "request_too_large")


def test_a_multipart_body_over_the_upload_limit_is_a_413(buyer_client, seated_event, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000

    response = buyer_client.post(
        f"/api/v1/events/{seated_event.pk}/holds/", {"quantity": "1" * 2000}, format="multipart"
    )

    assert_error(response, 413, "request_too_large")


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/events/not-a-number/",
        "/api/v1/events/1e3/seats/",
        "/api/v1/bookings/not-a-uuid/",
        "/api/v1/registrations/123/",
        "/api/v1/nothing-here/",
        "/api/unknown",
    ],
)
def test_paths_that_match_no_route_are_json_404s(path):
    assert_error(Client().get(path), 404, "not_found")


def test_a_404_is_json_under_the_api_and_html_on_pages():
    assert_error(Client().get("/api/v1/events/not-a-number/"), 404, "not_found")

    page = Client().get("/events/no-such-page/at-all/")
    assert page.status_code == 404
    assert page["Content-Type"].startswith("text/html")


def test_a_redis_outage_on_the_hold_path_is_a_503_with_retry_after(
    buyer_client, seated_event, monkeypatch
):
    # The seat locks (and the rate limit counted inside their script) on a port nobody answers.
    dead = redis.Redis.from_url(f"redis://127.0.0.1:{closed_port()}/0", socket_connect_timeout=1)
    monkeypatch.setattr(locks, "_default", locks.SeatLocks(dead))

    response = buyer_client.post(
        f"/api/v1/events/{seated_event.pk}/holds/", {"seats": seat_ids(seated_event)[:1]}
    )

    assert_error(response, 503, "dependency_unavailable")
    assert int(response["Retry-After"]) > 0


def test_an_unreachable_keycloak_jwks_is_a_503_with_retry_after(settings):
    settings.KEYCLOAK_JWKS_URL = f"http://127.0.0.1:{closed_port()}/certs"
    tokens.reset_jwks_cache()
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    now = int(time.time())
    token = jwt.encode(
        {"sub": "x", "iat": now, "exp": now + 60}, key, algorithm="RS256", headers={"kid": "k1"}
    )
    try:
        response = Client().get("/api/v1/me/", HTTP_AUTHORIZATION=f"Bearer {token}")
    finally:
        tokens.reset_jwks_cache()

    assert_error(response, 503, "dependency_unavailable")
    assert int(response["Retry-After"]) > 0
