"""WebSockets through a real uvicorn process and a real client (what a browser goes through)."""

import json
import sys

import pytest
from django.conf import settings
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from infrastructure.processes import ManagedProcess, free_port, port_accepts
from shared.realtime import current_sequence, publish_seat_changes
from tests.conftest import ROOT, test_process_env

pytestmark = pytest.mark.django_db(transaction=True)  # the server process must see the rows

ORIGIN = "http://localhost:8000"


@pytest.fixture
def asgi_server(transactional_db):
    """``uvicorn ticketing.asgi:application`` on a spare port, using the test database."""
    port = free_port()
    server = ManagedProcess(
        [sys.executable, "-m", "uvicorn", "ticketing.asgi:application",
         "--port", str(port), "--host", "127.0.0.1", "--lifespan", "off",
         "--log-level", "warning"],
        log_path=ROOT / "test-artifacts" / "realtime-uvicorn.log",
        env=test_process_env(CHANNEL_LAYER_REDIS_URL=settings.CHANNEL_LAYER_REDIS_URL),
    )  # fmt: skip
    server.start(port_accepts(port), timeout=30)
    yield f"ws://127.0.0.1:{port}"
    server.stop(timeout=10)


def test_anonymous_clients_see_close_code_4401_on_my_bookings(asgi_server):
    with (
        connect(f"{asgi_server}/ws/me/", origin=ORIGIN, open_timeout=5) as ws,
        pytest.raises(ConnectionClosed) as closed,
    ):
        ws.recv(timeout=5)
    assert closed.value.rcvd.code == 4401


def test_a_real_client_gets_the_snapshot_and_a_delta(asgi_server, make_user, make_event):
    event = make_event(make_user(), rows=1, seats_per_row=4)
    seat_ids = list(event.seat_map.seats.order_by("id").values_list("id", flat=True))
    start = current_sequence(event.id)

    with connect(f"{asgi_server}/ws/events/{event.id}/", origin=ORIGIN, open_timeout=5) as ws:
        snapshot = json.loads(ws.recv(timeout=5))
        assert snapshot["type"] == "snapshot"
        assert snapshot["seq"] == start

        publish_seat_changes(event.id, seat_ids[:2], "held")

        assert json.loads(ws.recv(timeout=5)) == {
            "type": "deltas",
            "changes": [{"seq": start + 1, "seats": seat_ids[:2], "status": "held"}],
        }
