"""Liveness and readiness probes."""

import ipaddress
import socket
import time
from urllib.parse import urlparse

import redis
from django.conf import settings
from django.db import connection
from django.http import JsonResponse

from shared.redis_clients import seat_lock_client
from ticketing.broker import dead_letter_counts

PROBE_TIMEOUT_SECONDS = 2.0


def healthz(request):
    return JsonResponse({"status": "ok"})


def _check_postgresql():
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL statement_timeout = 2000")
        cursor.execute("SELECT 1")


def _check_redis():
    if settings.REDIS_CLUSTER_NODES:  # the seat locks' cluster: every node answers
        seat_lock_client().ping()
        return
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


def _is_loopback(address: str) -> bool:
    try:
        return ipaddress.ip_address(address.strip()).is_loopback
    except ValueError:
        return False


def may_see_details(request) -> bool:
    """Loopback callers (an operator on the machine) and staff see which dependency failed.

    Behind nginx every request comes from loopback; nginx appends the real client address as
    the last X-Forwarded-For entry, so that entry decides (earlier ones are client-supplied).
    """
    if _is_loopback(request.META.get("REMOTE_ADDR", "")):
        forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
        if not forwarded or _is_loopback(forwarded.split(",")[-1]):
            return True
    try:
        return bool(request.user.is_authenticated and request.user.is_staff)
    except Exception:  # sessions live in Redis and the database: either may be what is down
        return False


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
    body = {"status": "unavailable" if failed else "ready"}
    if may_see_details(request):
        body.update(failed=failed, checks=results)
        if "rabbitmq" not in failed:
            body["dead_letters"] = _dead_letters()
    return JsonResponse(body, status=status)


def _dead_letters() -> dict[str, int] | str:
    """Poison messages waiting per work queue: not a readiness failure, but an operator's
    to-do (``manage.py replay_dead_letters``)."""
    try:
        return dead_letter_counts()
    except Exception as exc:  # the count is a detail: the probe's answer must not depend on it
        return f"{type(exc).__name__}: {exc}"
