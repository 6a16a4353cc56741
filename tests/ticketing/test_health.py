"""/healthz and /readyz."""

import socket

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]  # nothing listens once the socket is closed


def test_healthz():
    assert Client().get("/healthz").json() == {"status": "ok"}


def test_readyz_is_200_when_everything_answers():
    response = Client().get("/readyz")
    assert response.status_code == 200, response.content
    assert response.json()["failed"] == []
    dead_letters = response.json()["dead_letters"]
    assert set(dead_letters) == {"bookings", "payments", "notifications", "sales"}


def test_readyz_keeps_its_details_from_a_remote_caller():
    response = Client(REMOTE_ADDR="203.0.113.7").get("/readyz")
    assert response.json() == {"status": "ready"}


@pytest.mark.parametrize(
    ("setting", "template", "dependency"),
    [
        ("REDIS_URL", "redis://127.0.0.1:{port}/0", "redis"),
        ("CELERY_BROKER_URL", "amqp://ticketing:ticketing@127.0.0.1:{port}/ticketing", "rabbitmq"),
    ],
)
def test_readyz_is_503_naming_the_dependency_whose_port_is_closed(
    settings, setting, template, dependency
):
    setattr(settings, setting, template.format(port=closed_port()))
    response = Client().get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["failed"] == [dependency]
    assert body["checks"][dependency]["ok"] is False


def test_readyz_is_503_when_postgresql_is_unreachable(monkeypatch):
    from ticketing import health

    def refuse():
        import psycopg

        psycopg.connect(f"postgresql://x@127.0.0.1:{closed_port()}/x", connect_timeout=1)

    monkeypatch.setitem(health.CHECKS, "postgresql", refuse)
    response = Client().get("/readyz")
    assert response.status_code == 503
    assert response.json()["failed"] == ["postgresql"]
