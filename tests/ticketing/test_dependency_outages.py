"""Dependencies failing under a real gunicorn: every API answer is the JSON error format with
status 503 and ``Retry-After`` (a small HTML 503 on pages), never an HTML 500, and the API
serves again as soon as the dependency is back.

Redis is the test's own redis-server (killed and restarted); PostgreSQL is the shared server,
so only the backends of this test's own server (by application name) are terminated.
"""

import uuid

import httpx
import pytest
from django.db import connection

from tests.conftest import _serve, create_seated_event, free_port, seat_ids, session_cookies
from tests.private_services import PrivateRedis, keycloak_access_token

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.keycloak]

APP_NAME = f"outage-test-{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="module")
def private_redis():
    server = PrivateRedis().start()
    yield server
    server.close()


@pytest.fixture(scope="module")
def server(django_db_setup, artifacts_dir, private_redis):
    """One gunicorn worker whose seat locks, cache, sessions and throttles use the private
    Redis and whose database connections carry ``APP_NAME``."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    proc = _serve(
        ["gunicorn", "ticketing.wsgi", "--workers", "1", "--threads", "4",
         "--bind", f"127.0.0.1:{port}"],
        artifacts_dir / "outage-server.log",
        f"{url}/healthz",
        extra_env={"REDIS_URL": f"{private_redis.url}/0", "CACHE_URL": f"{private_redis.url}/2",
                   "PGAPPNAME": APP_NAME},
    )  # fmt: skip
    yield url
    proc.stop()


@pytest.fixture(scope="module")
def bearer():
    return {"Authorization": f"Bearer {keycloak_access_token()}"}


def assert_503(response: httpx.Response, *, page: bool = False) -> None:
    assert response.status_code == 503, (response.status_code, response.text[:300])
    assert int(response.headers["Retry-After"]) > 0
    if page:
        assert response.headers["Content-Type"].startswith("text/html")
        return
    assert response.headers["Content-Type"].startswith("application/json"), response.text[:300]
    error = response.json()["error"]
    assert set(error) == {"code", "message", "details"}
    assert error["code"] == "dependency_unavailable"


def test_redis_down_is_a_json_503_on_every_path_then_holds_work_again(
    server, private_redis, bearer, organizer, make_user
):
    # Given an event on sale and a buyer whose token this web process has already validated
    event = create_seated_event(organizer)
    seats = seat_ids(event)
    holds = f"{server}/api/v1/events/{event.pk}/holds/"
    first = httpx.post(holds, json={"seats": seats[:1]}, headers=bearer)
    assert first.status_code == 201, first.text
    cookies = session_cookies(make_user())

    # When Redis dies
    private_redis.kill()
    try:
        # Then the fast hold path (a token seen before, rate limit inside the hold script) ...
        assert_503(httpx.post(holds, json={"seats": seats[1:2]}, headers=bearer))
        # ... the full DRF hold path ...
        assert_503(httpx.post(holds, json={"best_available": {"quantity": 1}}, headers=bearer))
        # ... a registration (its throttle counts in Redis) ...
        registration = httpx.post(
            f"{server}/api/v1/registrations/",
            json={"hold": first.json()["id"]},
            headers={**bearer, "Idempotency-Key": uuid.uuid4().hex},
        )
        assert_503(registration)
        # ... the live seat map ...
        assert_503(httpx.get(f"{server}/api/v1/events/{event.pk}/seats/"))
        # ... a browser session (kept in the Redis cache) on the API and on a page
        assert_503(httpx.get(f"{server}/api/v1/bookings/", cookies=cookies))
        assert_503(httpx.get(f"{server}/events/", cookies=cookies), page=True)
    finally:
        private_redis.start()  # restarted empty, as after SHUTDOWN NOSAVE

    # And once Redis is back (empty), holds work again: the sold set is rebuilt from PostgreSQL
    again = httpx.post(holds, json={"seats": seats[1:2]}, headers=bearer)
    assert again.status_code == 201, again.text


def _terminate_server_backends() -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE application_name = %s",
            [APP_NAME],
        )
        return cursor.fetchone()[0]


def test_postgresql_connections_dropped_are_a_json_503_then_the_api_recovers(
    server, bearer, organizer
):
    # Given a web process with pooled database connections
    create_seated_event(organizer)
    events = f"{server}/api/v1/events/"
    assert httpx.get(events).status_code == 200

    # When PostgreSQL drops them (as a restart does)
    assert _terminate_server_backends() >= 1

    # Then no request is an HTML 500: the pool's health check (CONN_HEALTH_CHECKS) replaces a
    # dead connection before use, and a request that still meets one is a JSON 503
    answers = [httpx.get(events) for _ in range(4)]
    for answer in answers:
        if answer.status_code != 200:
            assert_503(answer)
    # And the pool replaces the dead connections: the API answers again
    assert answers[-1].status_code == 200, answers[-1].text[:300]
