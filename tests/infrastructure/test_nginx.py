"""infrastructure/nginx.conf under a real nginx: errors it raises itself under /api/ are in the
API's JSON format, it does not name its version, and static files carry the security headers."""

import http.client
import json
import socket
import struct
import threading
from pathlib import Path

import pytest

from tests.conftest import free_port, nginx_in_front_of

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def nginx():
    """nginx with the project's config on a spare port; the upstreams' ports are closed."""
    yield from nginx_in_front_of(free_port())


@pytest.fixture(scope="module")
def nginx_before_a_dying_server():
    """nginx in front of an API server that reads each request and dies before answering
    (a gunicorn worker SIGKILLed mid-request: the connection is reset)."""
    listener = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def serve():
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            conn.recv(65536)
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            conn.close()  # a reset, no answer

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield from nginx_in_front_of(listener.getsockname()[1])
    stop.set()
    thread.join()
    listener.close()


def request(port, method, path, headers=None):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.putrequest(method, path, skip_accept_encoding=True)
        for name, value in (headers or {}).items():
            conn.putheader(name, value)
        conn.endheaders()  # no body even when Content-Length announces one
        response = conn.getresponse()
        return response, response.read()
    finally:
        conn.close()


def assert_json_error(response, body, status):
    assert response.status == status, body
    assert response.getheader("Content-Type").startswith("application/json")
    error = json.loads(body)["error"]
    assert set(error) == {"code", "message", "details"}
    assert response.getheader("Server") == "nginx", "no version in Server"
    return error


def test_a_body_over_nginx_limit_is_a_json_413(nginx):
    response, body = request(
        nginx, "POST", "/api/v1/events/1/holds/", {"Content-Length": str(50 * 1024 * 1024)}
    )
    assert_json_error(response, body, 413)


def test_an_overlong_uri_is_a_json_414(nginx):
    response, body = request(nginx, "GET", "/api/v1/events/?q=" + "a" * 20_000)
    assert_json_error(response, body, 414)


def test_a_method_nginx_refuses_is_a_json_405(nginx):
    response, body = request(nginx, "TRACE", "/api/v1/events/")
    assert_json_error(response, body, 405)


def test_the_api_server_down_is_a_json_502_with_retry_after(nginx):
    response, body = request(nginx, "GET", "/api/v1/events/")
    assert_json_error(response, body, 502)
    assert int(response.getheader("Retry-After")) > 0


@pytest.mark.parametrize("method", ["GET", "POST", "DELETE"])
def test_the_api_server_dying_mid_request_is_a_json_502_with_retry_after(
    nginx_before_a_dying_server, method
):
    response, body = request(
        nginx_before_a_dying_server,
        method,
        "/api/v1/events/1/holds/",
        {"Content-Type": "application/json", "Content-Length": "0"},
    )

    error = assert_json_error(response, body, 502)
    assert error["code"] == "dependency_unavailable"
    assert int(response.getheader("Retry-After")) > 0


def test_static_files_carry_the_security_headers(nginx):
    response, body = request(nginx, "GET", "/static/site.css")

    assert response.status == 200, body
    assert response.getheader("Server") == "nginx"
    assert response.getheader("X-Content-Type-Options") == "nosniff"
    assert response.getheader("X-Frame-Options") == "DENY"
    assert response.getheader("Referrer-Policy") == "same-origin"
