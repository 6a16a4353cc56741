"""The ws processes' WebSocket protocol: uvicorn's own (websockets, sans-I/O) plus one extension.

A seat-map frame goes to thousands of local sockets. Through ASGI every copy costs a message
dict, the consumer's send, uvicorn's checks and websockets framing the same text again; the
bench measured tens of microseconds per copy. With this protocol (``uvicorn --ws
notifications.ws_server:PreparedFrameProtocol``, see infrastructure/Procfile) the scope of every
accepted socket carries ``extensions[PREPARED_FRAME]``: a callable ``write(frame) -> bool`` that
writes a server frame encoded once (``text_frame``) straight to the socket's transport.

It writes only while the socket is open, its transport is not paused by back-pressure and no
extension (compression) was negotiated; otherwise it writes nothing and returns False, and the
caller sends through ASGI as before (which waits for the buffer, or fails on a closed socket).
Frames are written whole, like every frame of the protocol itself (pings, close), so they never
interleave. Without the extension (another server, ``--ws auto``) the consumers use ASGI only.

Imports no Django: uvicorn loads it before the application.
"""

from __future__ import annotations

from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from websockets.frames import Frame, Opcode
from websockets.protocol import State

PREPARED_FRAME = "tk.prepared_frame"


def text_frame(text: str) -> bytes:
    """``text`` as one complete, unmasked, uncompressed server frame."""
    return Frame(Opcode.TEXT, text.encode()).serialize(mask=False)


class PreparedFrameProtocol(WebSocketsSansIOProtocol):
    def handle_connect(self, event) -> None:
        super().handle_connect(event)
        scope = getattr(self, "scope", None)  # not set when the handshake was refused
        if scope is not None:
            scope["extensions"][PREPARED_FRAME] = self.write_prepared

    def write_prepared(self, frame: bytes) -> bool:
        """Write ``frame`` (from ``text_frame``) if the socket takes it now; never blocks."""
        if (
            self.conn.state is not State.OPEN
            or self.close_sent
            or self.conn.extensions
            or not self.writable.is_set()
            or self.transport.is_closing()
        ):
            return False
        self.transport.write(frame)
        return True
