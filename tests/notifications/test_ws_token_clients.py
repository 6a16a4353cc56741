"""Non-browser WebSocket clients: a Keycloak token and no Origin header is enough; cookies still
need an allowed Origin (a cross-site page's socket carries them)."""

import json
import time

import pytest
from django.contrib.auth import get_user_model
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import connect

from shared.realtime import publish_booking_update
from tests.auth.conftest import keycloak  # noqa: F401 (the fixture)
from tests.conftest import session_cookies

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.keycloak]


def ws_url(asgi_server: str, path: str) -> str:
    return asgi_server.replace("http://", "ws://", 1) + path


def test_a_token_client_without_origin_gets_its_booking_updates(asgi_server, keycloak):  # noqa: F811
    token = keycloak.access_token("buyer@example.com")

    with connect(ws_url(asgi_server, f"/ws/me/?token={token}"), open_timeout=10) as ws:
        # The server created the buyer from the token's claims while accepting the socket.
        buyer = get_user_model().objects.get(email="buyer@example.com")
        update = {"id": "b1", "buyer_id": buyer.pk, "status": "confirmed"}
        deadline = time.monotonic() + 5
        while True:  # the consumer joins its group right after accepting
            publish_booking_update(buyer.pk, update)
            try:
                message = json.loads(ws.recv(timeout=0.5))
                break
            except TimeoutError:
                assert time.monotonic() < deadline, "no booking update arrived"

    assert message == {"type": "booking", "booking": update}


def test_cookies_without_origin_are_still_refused(asgi_server, make_user):
    cookies = session_cookies(make_user())
    cookie = "; ".join(f"{k}={v}" for k, v in cookies.items())

    with pytest.raises(InvalidStatus) as refused:
        connect(ws_url(asgi_server, "/ws/me/"), additional_headers={"Cookie": cookie})
    assert refused.value.response.status_code == 403

    # A junk token does not turn the cookies back on: the socket is anonymous.
    url = ws_url(asgi_server, "/ws/me/?token=junk")
    with (
        connect(url, additional_headers={"Cookie": cookie}, open_timeout=10) as ws,
        pytest.raises(ConnectionClosed) as closed,
    ):
        ws.recv(timeout=5)
    assert closed.value.rcvd.code == 4401
