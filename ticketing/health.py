"""Liveness and readiness probes."""

import socket
import time
from urllib.parse import urlparse

import redis
from django.conf import settings
from django.db import connection
from django.http import JsonResponse

PROBE_TIMEOUT_SECONDS = 2.0


def healthz(request):
    return JsonResponse({"status": "ok"})


def _check_postgresql():
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL statement_timeout = 2000")
        cursor.execute("SELECT 1")


def _check_redis():
    client = redis.Redis.from_url(
        settings.REDIS_URL,
        socket_connect_timeout=PROBE_TIMEOUT_SECONDS,
        socket_timeout=PROBE_TIMEOUT_SECONDS,
    )
    try:
        client.ping()
    finally:
        client.close()


def _check_rabbitmq():
    # An AMQP handshake opener is enough to know the broker answers; a full Celery connection
    # would retry for much longer than a probe may take.
    url = urlparse(settings.CELERY_BROKER_URL)
    with socket.create_connection(
        (url.hostname or "127.0.0.1", url.port or 5672), timeout=PROBE_TIMEOUT_SECONDS
    ) as sock:
        sock.settimeout(PROBE_TIMEOUT_SECONDS)
        sock.sendall(b"AMQP\x00\x00\x09\x01")
        if sock.recv(8)[:1] != b"\x01":  # connection.start frame
            raise ConnectionError("unexpected answer from the broker")


CHECKS = {"postgresql": _check_postgresql, "redis": _check_redis, "rabbitmq": _check_rabbitmq}


def readyz(request):
    results, failed = {}, []
    for name, check in CHECKS.items():
        started = time.monotonic()
        try:
            check()
        except Exception as exc:  # any failure means "not ready"; the name and error are reported
            results[name] = {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
            failed.append(name)
        else:
            results[name] = {"ok": True, "ms": round((time.monotonic() - started) * 1000, 1)}
    status = 503 if failed else 200
    return JsonResponse(
        {"status": "unavailable" if failed else "ready", "failed": failed, "checks": results},
        status=status,
    )
