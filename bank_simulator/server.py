"""The bank simulator's HTTP server (stdlib only) and its ledger (SQLite: the bank's storage).

Endpoints (JSON in and out, amounts in integer minor units):

* ``POST /tokens`` ``{"card_number"?}`` -> 201 ``{"token", "last4"}``. Card 4000000000000002
  always declines; any other card approves unless ``decline_rate`` says otherwise.
* ``POST /charges`` ``{"amount", "currency", "token"}`` with an ``Idempotency-Key`` header ->
  201 ``{"id", "status": "approved"|"declined", ...}``. The same key returns the same charge
  (200, ``"replayed": true``) and never charges twice; a different amount under a used key
  is 422.
* ``GET /charges?idempotency_key=...`` and ``GET /charges/<id>`` -> 200 or 404.
* ``POST /refunds`` ``{"charge", "amount"}`` with an ``Idempotency-Key`` -> 201, idempotent;
  422 if the charge was not approved or the amount exceeds what is left.
* ``GET /ledger`` -> every charge and refund, the requests in flight and the config.
* ``POST /config`` with any of ``latency_ms`` (every answer waits this long after the work),
  ``decline_rate``, ``timeout_rate`` (a new charge is recorded, then the answer waits
  ``timeout_ms``, longer than any client timeout), ``duplicate_rate`` (the request is
  processed twice, as if the network delivered it twice, and the answer is the replay),
  ``seed``. "Down" is the process not running: tests stop and start it.
* ``GET /health``.
* ``GET /elements/card.html?origin=<merchant origin>&label=<button text>``: the hosted card form
  a merchant's page frames (like a real provider's card element). The card goes from the frame
  to ``/tokens`` on the bank's origin; the page gets the token by ``postMessage`` sent only to
  ``origin``, which must be one of the embedding origins (``--embed-origin``, or
  ``POST /config {"embed_origins": [...]}``), and only those may frame the form
  (``frame-ancestors``).
"""

from __future__ import annotations

import html
import json
import logging
import random
import secrets
import sqlite3
import threading
import time
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlparse

log = logging.getLogger("bank_simulator")

ALWAYS_DECLINED_CARD = "4000000000000002"
DEFAULT_EMBED_ORIGINS = ("http://localhost:8000", "http://127.0.0.1:8000")
ELEMENTS = Path(__file__).parent / "elements"
_ELEMENT_TYPES = {".html": "text/html", ".js": "text/javascript", ".css": "text/css"}

_SCHEMA = """
CREATE TABLE IF NOT EXISTS tokens (
    token TEXT PRIMARY KEY, last4 TEXT NOT NULL, always_decline INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS charges (
    id TEXT PRIMARY KEY, idempotency_key TEXT NOT NULL UNIQUE, amount INTEGER NOT NULL,
    currency TEXT NOT NULL, token TEXT NOT NULL, status TEXT NOT NULL,
    decline_reason TEXT NOT NULL, created_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS refunds (
    id TEXT PRIMARY KEY, idempotency_key TEXT NOT NULL UNIQUE, charge TEXT NOT NULL,
    amount INTEGER NOT NULL, currency TEXT NOT NULL, created_at REAL NOT NULL
);
"""


class Refused(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


class Bank:
    """Ledger and behaviour. One lock serialises every write, so a key is charged once."""

    def __init__(self, ledger_path: str, embed_origins=DEFAULT_EMBED_ORIGINS):
        Path(ledger_path).parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(ledger_path, check_same_thread=False, isolation_level=None)
        self.db.row_factory = sqlite3.Row
        self.db.execute("PRAGMA journal_mode=WAL")
        # WAL with NORMAL sync: a commit survives the process dying, without an fsync per charge
        # taken under the lock (that fsync, not the latency, would cap the bank's throughput).
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.executescript(_SCHEMA)
        self.lock = threading.Lock()
        self.config = {
            "latency_ms": 0,
            "decline_rate": 0.0,
            "timeout_rate": 0.0,
            "timeout_ms": 15000,
            "duplicate_rate": 0.0,
        }
        self.random = random.Random()
        self.in_flight = 0
        self.embed_origins = tuple(embed_origins)

    def chance(self, name: str) -> bool:
        with self.lock:
            return self.random.random() < float(self.config[name])

    def configure(self, changes: dict) -> dict:
        with self.lock:
            if "seed" in changes:
                self.random.seed(changes.pop("seed"))
            if "embed_origins" in changes:
                origins = changes.pop("embed_origins")
                if not isinstance(origins, list) or not all(
                    isinstance(o, str) and o.startswith(("http://", "https://")) for o in origins
                ):
                    raise Refused(400, "embed_origins must be a list of http(s) origins")
                self.embed_origins = tuple(o.rstrip("/") for o in origins)
            unknown = set(changes) - set(self.config)
            if unknown:
                raise Refused(400, f"unknown settings: {sorted(unknown)}")
            self.config.update({k: float(v) for k, v in changes.items()})
            return {**self.config, "embed_origins": list(self.embed_origins)}

    def issue_token(self, card_number: str) -> dict:
        token = f"tok_{secrets.token_hex(12)}"
        with self.lock:
            self.db.execute(
                "INSERT INTO tokens VALUES (?, ?, ?)",
                (token, card_number[-4:], int(card_number == ALWAYS_DECLINED_CARD)),
            )
        return {"token": token, "last4": card_number[-4:]}

    def charge(self, key: str, amount: int, currency: str, token: str) -> tuple[dict, bool]:
        """(the charge, whether this call created it)."""
        with self.lock:
            existing = self._one("SELECT * FROM charges WHERE idempotency_key = ?", key)
            if existing is not None:
                if (existing["amount"], existing["currency"]) != (amount, currency):
                    raise Refused(422, "idempotency key reused with a different amount")
                return existing, False
            card = self._one("SELECT * FROM tokens WHERE token = ?", token)
            if card is None:
                status, reason = "declined", "invalid_token"
            elif card["always_decline"]:
                status, reason = "declined", "card_declined"
            elif self.random.random() < float(self.config["decline_rate"]):
                status, reason = "declined", "insufficient_funds"
            else:
                status, reason = "approved", ""
            charge_id = f"ch_{secrets.token_hex(10)}"
            self.db.execute(
                "INSERT INTO charges VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (charge_id, key, amount, currency, token, status, reason, time.time()),
            )
            return self._one("SELECT * FROM charges WHERE id = ?", charge_id), True

    def refund(self, key: str, charge_id: str, amount: int) -> tuple[dict, bool]:
        with self.lock:
            existing = self._one("SELECT * FROM refunds WHERE idempotency_key = ?", key)
            if existing is not None:
                return {**existing, "status": "approved"}, False
            charge = self._one("SELECT * FROM charges WHERE id = ?", charge_id)
            if charge is None or charge["status"] != "approved":
                raise Refused(422, "only approved charges can be refunded")
            refunded = self.db.execute(
                "SELECT COALESCE(SUM(amount), 0) FROM refunds WHERE charge = ?", (charge_id,)
            ).fetchone()[0]
            if amount <= 0 or amount > charge["amount"] - refunded:
                raise Refused(422, "the refund exceeds what is left of the charge")
            refund_id = f"re_{secrets.token_hex(10)}"
            row = (refund_id, key, charge_id, amount, charge["currency"], time.time())
            self.db.execute("INSERT INTO refunds VALUES (?, ?, ?, ?, ?, ?)", row)
            created = self._one("SELECT * FROM refunds WHERE id = ?", refund_id)
            return {**created, "status": "approved"}, True

    def find_charge(self, *, key: str = "", charge_id: str = "") -> dict | None:
        with self.lock:
            if charge_id:
                return self._one("SELECT * FROM charges WHERE id = ?", charge_id)
            return self._one("SELECT * FROM charges WHERE idempotency_key = ?", key)

    def ledger(self) -> dict:
        with self.lock:
            charges = [dict(r) for r in self.db.execute("SELECT * FROM charges ORDER BY rowid")]
            refunds = [dict(r) for r in self.db.execute("SELECT * FROM refunds ORDER BY rowid")]
            return {
                "charges": charges,
                "refunds": refunds,
                "in_flight": self.in_flight,
                "config": dict(self.config),
            }

    def _one(self, sql: str, *args) -> dict | None:
        row = self.db.execute(sql, args).fetchone()
        return dict(row) if row is not None else None


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # The headers and the body leave in separate writes; with Nagle on, the body waits for the
    # client's delayed ACK of the headers (~40 ms per answer on a kept-alive connection).
    disable_nagle_algorithm = True
    server: BankServer

    # --- plumbing ------------------------------------------------------------------------
    def log_message(self, format, *args):
        if self.server.verbose:
            log.info("%s %s", self.address_string(), format % args)

    def _body(self) -> dict:
        length = int(self.headers.get("Content-Length") or 0)
        if not length:
            return {}
        try:
            body = json.loads(self.rfile.read(length))
        except ValueError as exc:
            raise Refused(400, "the body is not JSON") from exc
        if not isinstance(body, dict):
            raise Refused(400, "the body must be a JSON object")
        return body

    def _send(self, status: int, body: dict | bytes, headers: dict | None = None) -> None:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        headers = headers or {"Content-Type": "application/json"}
        try:
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (its timeout); the work is done all the same

    def _route(self, method: str) -> None:
        url = urlparse(self.path)
        handler = getattr(self, f"{method}_{url.path.strip('/').split('/')[0] or 'root'}", None)
        try:
            if handler is None:
                raise Refused(404, "no such endpoint")
            status, body = handler(url)
        except Refused as exc:
            status, body = exc.status, {"error": str(exc)}
        except (KeyError, TypeError, ValueError) as exc:
            status, body = 400, {"error": f"bad request: {exc}"}
        self._send(status, body)

    def do_GET(self):
        if self.path.startswith("/elements/"):
            self._element(urlparse(self.path))
        else:
            self._route("get")

    def do_POST(self):
        self._route("post")

    def _slow(self, *, timeout: bool = False) -> None:
        bank = self.server.bank
        with bank.lock:
            bank.in_flight += 1
        try:
            time.sleep(bank.config["latency_ms"] / 1000)
            if timeout:
                time.sleep(bank.config["timeout_ms"] / 1000)
        finally:
            with bank.lock:
                bank.in_flight -= 1

    def _key(self) -> str:
        key = (self.headers.get("Idempotency-Key") or "").strip()
        if not key or len(key) > 200:
            raise Refused(400, "an Idempotency-Key header is required")
        return key

    # --- the hosted card form ------------------------------------------------------------
    def _element(self, url) -> None:
        name = url.path.removeprefix("/elements/")
        path = ELEMENTS / name
        if "/" in name or path.suffix not in _ELEMENT_TYPES or not path.is_file():
            self._send(404, {"error": "no such element"})
            return
        headers = {
            "Content-Type": f"{_ELEMENT_TYPES[path.suffix]}; charset=utf-8",
            "X-Content-Type-Options": "nosniff",
            "Cache-Control": "no-store",
        }
        body = path.read_bytes()
        if path.suffix == ".html":
            query = parse_qs(url.query)
            origin = query.get("origin", [""])[0].rstrip("/")
            if origin not in self.server.bank.embed_origins:
                self._send(403, {"error": f"origin {origin!r} may not embed the card form"})
                return
            label = query.get("label", ["Pay"])[0][:60]
            config = json.dumps({"origin": origin}).replace("<", "\\u003c")
            body = (
                body.decode()
                .replace("{config}", config)
                .replace("{label}", html.escape(label))
                .encode()
            )
            # Scripts, styles and the token request from the bank only; framed by that origin.
            headers["Content-Security-Policy"] = (
                "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
                f"form-action 'none'; base-uri 'none'; frame-ancestors {origin}"
            )
        self._send(200, body, headers)

    # --- endpoints -----------------------------------------------------------------------
    def get_health(self, url):
        return 200, {"status": "ok"}

    def get_ledger(self, url):
        return 200, self.server.bank.ledger()

    def post_config(self, url):
        return 200, self.server.bank.configure(self._body())

    def post_tokens(self, url):
        body = self._body()
        card = str(body.get("card_number") or "4242424242424242")
        if not card.isdigit() or not 12 <= len(card) <= 19:
            raise Refused(400, "card_number must be 12 to 19 digits")
        if "cvc" in body and not (str(body["cvc"]).isdigit() and 3 <= len(str(body["cvc"])) <= 4):
            raise Refused(400, "cvc must be 3 or 4 digits")
        return HTTPStatus.CREATED, self.server.bank.issue_token(card)

    def get_charges(self, url):
        parts = url.path.strip("/").split("/")
        bank = self.server.bank
        if len(parts) == 2:
            charge = bank.find_charge(charge_id=parts[1])
        else:
            key = parse_qs(url.query).get("idempotency_key", [""])[0]
            charge = bank.find_charge(key=key) if key else None
        if charge is None:
            raise Refused(404, "no such charge")
        return 200, charge

    def post_charges(self, url):
        bank = self.server.bank
        key, body = self._key(), self._body()
        amount, currency, token = int(body["amount"]), str(body["currency"]), str(body["token"])
        if amount <= 0:
            raise Refused(400, "amount must be positive")
        charge, created = bank.charge(key, amount, currency, token)
        if created and bank.chance("duplicate_rate"):
            charge, created = bank.charge(key, amount, currency, token)
        self._slow(timeout=created and bank.chance("timeout_rate"))
        return (201 if created else 200), {**charge, "replayed": not created}

    def post_refunds(self, url):
        key, body = self._key(), self._body()
        refund, created = self.server.bank.refund(key, str(body["charge"]), int(body["amount"]))
        self._slow()
        return (201 if created else 200), {**refund, "replayed": not created}


class BankServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256

    def __init__(self, address, bank: Bank, verbose: bool = False):
        super().__init__(address, Handler)
        self.bank = bank
        self.verbose = verbose


def serve(
    host: str,
    port: int,
    ledger_path: str,
    verbose: bool = False,
    embed_origins=DEFAULT_EMBED_ORIGINS,
) -> None:
    server = BankServer((host, port), Bank(ledger_path, embed_origins), verbose=verbose)
    log.info("bank simulator on http://%s:%s, ledger %s", host, port, ledger_path)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
