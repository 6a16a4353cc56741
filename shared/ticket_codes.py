"""Signed ticket codes: compact, unguessable and verifiable at the door without the database.

A code is base32 (uppercase letters and digits, so the QR code uses its compact alphanumeric
mode) of ``event id (4 bytes) | random nonce (8 bytes) | HMAC-SHA256 truncated to 8 bytes``:
32 characters. Forging one means guessing a 64-bit MAC.
"""

import base64
import binascii
import hashlib
import hmac
import secrets
import struct
from dataclasses import dataclass

from django.conf import settings

_EVENT = struct.Struct(">I")
_NONCE_BYTES = 8
_MAC_BYTES = 8
_BODY_BYTES = _EVENT.size + _NONCE_BYTES
CODE_LENGTH = 32


class InvalidTicketCode(ValueError):
    """The code is malformed, truncated or its signature does not match."""


@dataclass(frozen=True)
class VerifiedCode:
    event_id: int


def _mac(body: bytes) -> bytes:
    key = settings.TICKET_SIGNING_KEY.encode()
    return hmac.new(key, b"ticket:v1:" + body, hashlib.sha256).digest()[:_MAC_BYTES]


def issue_code(event_id: int) -> str:
    body = _EVENT.pack(event_id) + secrets.token_bytes(_NONCE_BYTES)
    return base64.b32encode(body + _mac(body)).decode("ascii")


def verify_code(code: str) -> VerifiedCode:
    code = (code or "").strip().upper()
    if len(code) != CODE_LENGTH:
        raise InvalidTicketCode("The ticket code is incomplete or too long.")
    try:
        raw = base64.b32decode(code)
    except (binascii.Error, ValueError) as exc:
        raise InvalidTicketCode("The ticket code contains characters a ticket never has.") from exc
    body, mac = raw[:_BODY_BYTES], raw[_BODY_BYTES:]
    if not hmac.compare_digest(mac, _mac(body)):
        raise InvalidTicketCode("The ticket code's signature does not match: not one of ours.")
    (event_id,) = _EVENT.unpack(body[: _EVENT.size])
    return VerifiedCode(event_id=event_id)
