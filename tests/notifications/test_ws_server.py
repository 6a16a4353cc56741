"""The ws processes' protocol (notifications/ws_server.py): prepared frames written straight to a
socket arrive as ordinary messages, in order with the ASGI ones, and only while the socket can
take them. A real uvicorn server in the test's event loop, a real ``websockets`` client."""

import asyncio

import uvicorn
from websockets.asyncio.client import connect

from notifications.ws_server import PREPARED_FRAME, PreparedFrameProtocol, text_frame
from tests.conftest import free_port


async def serve(app, *, deflate: bool):
    """Run ``app`` under uvicorn with the prepared-frame protocol; returns (server, task, url)."""
    port = free_port()
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=port,
        ws=PreparedFrameProtocol,
        ws_per_message_deflate=deflate,
        lifespan="off",
        log_level="warning",
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.01)
    return server, task, f"ws://127.0.0.1:{port}/"


def run_app_with_client(app, client, *, deflate=False):
    async def main():
        server, task, url = await serve(app, deflate=deflate)
        try:
            return await asyncio.wait_for(client(url), 10)
        finally:
            server.should_exit = True
            await task

    return asyncio.run(main())


def test_prepared_frames_arrive_in_order_with_asgi_messages_and_only_on_an_open_socket():
    written = []
    done = asyncio.Event()

    async def app(scope, receive, send):
        write = scope["extensions"][PREPARED_FRAME]
        assert (await receive())["type"] == "websocket.connect"
        written.append(write(text_frame("before accept")))  # the handshake is not answered yet
        await send({"type": "websocket.accept"})
        written.append(write(text_frame('{"n":1}')))
        await send({"type": "websocket.send", "text": '{"n":2}'})
        written.append(write(text_frame("é" * 40_000)))  # 80 kB: the 64-bit length form
        assert (await receive())["type"] == "websocket.disconnect"
        written.append(write(text_frame("after the close")))
        done.set()

    async def client(url):
        async with connect(url, compression=None) as ws:
            received = [await ws.recv() for _ in range(3)]
        await done.wait()
        return received

    received = run_app_with_client(app, client)

    assert received == ['{"n":1}', '{"n":2}', "é" * 40_000]
    assert written == [False, True, True, False]


def test_no_prepared_frames_when_compression_was_negotiated():
    written = []

    async def app(scope, receive, send):
        await receive()
        await send({"type": "websocket.accept"})
        written.append(scope["extensions"][PREPARED_FRAME](text_frame("raw")))
        await send({"type": "websocket.send", "text": "through ASGI"})
        await receive()

    async def client(url):
        async with connect(url) as ws:  # offers permessage-deflate; the server accepts it
            return await ws.recv()

    assert run_app_with_client(app, client, deflate=True) == "through ASGI"
    assert written == [False]
