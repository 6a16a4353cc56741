"""`make faults`: an operator's bad day as a drill against a running `make run`.

For each scenario: a sale on a fresh queued event (``--buyers`` Keycloak buyers, one distinct
seat each, arriving over ``--ramp`` seconds), the fault injected a third of the way in and
restored after its duration, then the state checked in PostgreSQL, Redis, the mail sink and the
bank's ledger. Buyers behave like a well-written client: on 502/503/429 they wait Retry-After and
try again (registrations with the same Idempotency-Key) for up to ``--patience`` seconds.

Printed per scenario (all must be 0 except recovery_s): accepted, confirmed, failed by reason,
never_final, sold_twice, seats_lost (buyers who got a hold and no booking, plus seats Redis
calls sold without a live ticket), emails_missing / emails_duplicated, charges_duplicated,
non_json (client-visible answers that are not the JSON error format: HTML 502s, connection
resets), http_500, and recovery_s: from the restore until a probe buyer's hold, registration
and booking all succeed again.

Scenarios marked shared stop a service other programs on this machine use (PostgreSQL,
RabbitMQ, the Redis server, Keycloak); they run only when named with --only.

    make faults FAULTS=worker_kill,web_kill
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import email.parser
import json
import logging
import os
import signal
import sqlite3
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import django
import httpx

ROOT = Path(__file__).resolve().parent.parent
RETRY_STATUSES = (429, 502, 503, 504)
FINAL = ("confirmed", "failed", "cancelled", "expired")


# --- processes of `make run` -----------------------------------------------------------------


def _pids(pattern: str) -> list[int]:
    """Live processes whose command line contains ``pattern``, without the shells around them
    (supervisord runs each command in bash, piped to sed) and without zombies."""
    out = subprocess.run(["pgrep", "-f", pattern], capture_output=True, text=True, check=False)
    pids = []
    for pid in map(int, out.stdout.split()):
        try:
            comm = Path(f"/proc/{pid}/comm").read_text().strip()
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            continue
        if comm not in ("bash", "sh", "sed", "setsid", "pgrep") and state != "Z":
            pids.append(pid)
    return [p for p in pids if p != os.getpid()]


def _parent(pid: int) -> int:
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return 0


def _wait_for(predicate: Callable[[], bool], timeout: float, what: str) -> float:
    started = time.monotonic()
    while not predicate():
        if time.monotonic() - started > timeout:
            raise RuntimeError(f"timed out waiting for {what}")
        time.sleep(0.2)
    return time.monotonic() - started


# make run's processes only (infrastructure/Procfile): test suites on this machine start
# workers and servers of their own from the same commands, on other names and ports.
BOOKING_WORKER = "celery -A ticketing worker -Q bookings .*-n bookings-"
WEB = "gunicorn ticketing.wsgi .*--bind 127.0.0.1:8001"
BANK = "bank_simulator --port 8200"


def kill_booking_worker(times: int = 3, every_s: float = 3.0) -> None:
    """SIGKILL the booking worker ``times`` times; the supervisor starts it again each time."""
    killed: set[int] = set()
    for i in range(times):
        _wait_for(lambda: set(_pids(BOOKING_WORKER)) - killed, 60, "the booking worker")
        for pid in set(_pids(BOOKING_WORKER)) - killed:
            os.kill(pid, signal.SIGKILL)
            killed.add(pid)
        if i < times - 1:
            time.sleep(every_s)
    _wait_for(lambda: set(_pids(BOOKING_WORKER)) - killed, 60, "the booking worker")


def _wait_for_one(pattern: str) -> list[int]:
    _wait_for(lambda: len(_pids(pattern)) == 1, 60, pattern)
    return _pids(pattern)


def kill_web_worker(times: int = 3, every_s: float = 2.0) -> None:
    """SIGKILL one gunicorn worker (not the master) ``times`` times, mid-sale."""
    for _ in range(times):
        pids = _pids(WEB)
        workers = [p for p in pids if _parent(p) in pids]
        os.kill(workers[0], signal.SIGKILL)
        time.sleep(every_s)


def _stop_and_relaunch(pattern: str) -> Callable[[], None]:
    """SIGTERM the process and return how to start it again with its own command line."""
    (pid,) = _wait_for_one(pattern)
    argv = Path(f"/proc/{pid}/cmdline").read_bytes().rstrip(b"\0").split(b"\0")
    cwd = os.readlink(f"/proc/{pid}/cwd")
    os.kill(pid, signal.SIGTERM)
    _wait_for(lambda: not _pids(pattern), 30, f"{pattern} to stop")

    def relaunch():
        subprocess.Popen(
            [a.decode() for a in argv], cwd=cwd, start_new_session=True,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip

    return relaunch


@dataclasses.dataclass
class Scenario:
    name: str
    inject: Callable[[], object]
    restore: Callable[[object], None]
    shared: bool = False  # stops a service other programs on this machine use
    paid: bool = False


def _redis_restart():
    subprocess.run(["redis-cli", "-p", "6379", "shutdown", "nosave"], check=False)
    time.sleep(5)


def _redis_start(_):
    var = ROOT / "var"
    (var / "redis").mkdir(parents=True, exist_ok=True)
    subprocess.run(
        ["redis-server", "--daemonize", "yes", "--port", "6379", "--bind", "127.0.0.1",
         "--dir", str(var / "redis"), "--logfile", str(var / "log" / "redis.log"),
         "--save", "", "--appendonly", "no", "--databases", "32", "--maxclients", "10000"],
        check=True,
    )  # fmt: skip


def _freeze(pattern: str, seconds: float):
    def inject():
        pids = _pids(pattern)
        for pid in pids:
            os.kill(pid, signal.SIGSTOP)
        time.sleep(seconds)
        return pids

    return inject


def _thaw(pids):
    for pid in pids:
        os.kill(pid, signal.SIGCONT)


def _poison():
    """Commands no worker can run: an unknown task, bad arguments, an undecodable body."""
    from ticketing.celery import app

    with app.connection_for_write() as conn:
        producer = conn.Producer()
        for headers, body, content_type in [
            ({"id": uuid.uuid4().hex, "task": "registration_worker.no_such_task"}, "[[], {}, {}]",
             "application/json"),
            ({"id": uuid.uuid4().hex, "task": "registration_worker.process_booking"},
             '[[], {"unexpected": 1}, {}]', "application/json"),
            ({"id": uuid.uuid4().hex, "task": "registration_worker.process_booking"},
             b"\xff\xfe not json", "application/json"),
        ]:  # fmt: skip
            producer.publish(
                body, routing_key="bookings", headers=headers, content_type=content_type,
                content_encoding="utf-8" if isinstance(body, str) else "binary",
            )  # fmt: skip
    return 3


def scenarios(args) -> dict[str, Scenario]:
    mq = ["rabbitmqctl", "-q"]
    pg_version = (
        sorted(os.listdir("/usr/lib/postgresql"), key=float)[-1]
        if os.path.isdir("/usr/lib/postgresql")
        else "15"
    )
    pg = ["pg_ctlcluster", pg_version, "main"]
    keycloak = str(ROOT / "keycloak" / "keycloak.sh")
    return {
        s.name: s
        for s in [
            Scenario("worker_kill", kill_booking_worker, lambda _: None),
            Scenario("web_kill", kill_web_worker, lambda _: None),
            Scenario("redis_flush", lambda: _seat_redis().flushdb(), lambda _: None),
            Scenario("poison", _poison, lambda _: None),
            Scenario("bank_down", _freeze(BANK, args.bank_down_s), _thaw, paid=True),
            Scenario(
                "smtp_down",
                lambda: (
                    _stop_and_relaunch("infrastructure.smtp_sink"),
                    time.sleep(args.smtp_down_s),
                )[0],
                lambda relaunch: relaunch(),
            ),
            Scenario("redis_restart", _redis_restart, _redis_start, shared=True),
            Scenario(
                "rabbitmq_stop",
                lambda: (subprocess.run([*mq, "stop_app"], check=True), time.sleep(30)),
                lambda _: subprocess.run([*mq, "start_app"], check=True),
                shared=True,
            ),
            Scenario(
                "postgres_restart",
                lambda: subprocess.run([*pg, "restart", "-m", "fast"], check=True),
                lambda _: None,
                shared=True,
            ),
            Scenario(
                "keycloak_down",
                lambda: (
                    subprocess.run([keycloak, "stop"], check=True),
                    kill_web_worker(times=1),
                    time.sleep(30),
                ),
                lambda _: subprocess.run([keycloak, "start"], check=True),
                shared=True,
            ),
        ]
    }


def _seat_redis():
    from shared.locks import seat_locks

    return seat_locks().redis


# --- the sale ----------------------------------------------------------------------------


class Sale:
    def __init__(self):
        self.statuses: Counter = Counter()
        self.non_json = 0
        self.http_500 = 0
        self.transport_errors = 0
        self.held: dict[int, int] = {}  # buyer -> seat
        self.accepted: dict[int, str] = {}  # buyer -> tracking id
        self.gave_up: Counter = Counter()

    def note(self, step: str, response: httpx.Response | None) -> None:
        if response is None:
            self.transport_errors += 1
            self.non_json += 1
            return
        self.statuses[f"{step}:{response.status_code}"] += 1
        if response.status_code == 500:
            self.http_500 += 1
        if response.status_code >= 400:
            content_type = response.headers.get("Content-Type", "")
            try:
                ok = content_type.startswith("application/json") and set(
                    response.json()["error"]
                ) == {"code", "message", "details"}
            except (ValueError, KeyError, TypeError):
                ok = False
            if not ok:
                self.non_json += 1


async def _call(client, sale: Sale, step, method, url, deadline, **kwargs):
    """One request, repeated on a retryable answer until ``deadline``; the last answer."""
    while True:
        try:
            response = await client.request(method, url, **kwargs)
        except httpx.HTTPError:
            response = None
        sale.note(step, response)
        if response is not None and response.status_code not in RETRY_STATUSES:
            return response
        if time.monotonic() > deadline:
            return response
        wait = 1.0
        if response is not None:
            with contextlib.suppress(ValueError):
                wait = min(float(response.headers.get("Retry-After", 1)), 5.0)
        await asyncio.sleep(wait)


async def _buyer(client, sale, i, event_id, seat, token, payment_token, due, patience):
    await asyncio.sleep(max(0.0, due - time.monotonic()))
    deadline = time.monotonic() + patience
    auth = {"Authorization": f"Bearer {token}"}
    # A hold the outage ended before the registration came (404 hold_not_found): the buyer,
    # told so, holds the same seat again once; the answers count how often that happened.
    for _attempt in range(2):
        held = await _call(
            client, sale, "hold", "POST", f"/api/v1/events/{event_id}/holds/", deadline,
            json={"seats": [seat]}, headers=auth,
        )  # fmt: skip
        if held is None or held.status_code != 201:
            sale.gave_up[f"hold:{held.status_code if held is not None else 'transport'}"] += 1
            return
        sale.held[i] = seat
        body = {"hold": held.json()["id"]}
        if payment_token:
            body["payment_token"] = payment_token
        registered = await _call(
            client, sale, "register", "POST", "/api/v1/registrations/", deadline, json=body,
            headers={**auth, "Idempotency-Key": f"faults-{uuid.uuid4().hex}"},
        )  # fmt: skip
        if registered is not None and registered.status_code in (201, 202):
            sale.accepted[i] = registered.json()["tracking_id"]
            return
        if not _is_error(registered, 404, "hold_not_found"):
            break
    status = registered.status_code if registered is not None else "transport"
    sale.gave_up[f"register:{status}"] += 1


def _is_error(response, status: int, code: str) -> bool:
    if response is None or response.status_code != status:
        return False
    try:
        return response.json()["error"]["code"] == code
    except (ValueError, KeyError, TypeError):
        return False


async def _sale(args, event_id, seats, tokens, payment_tokens):
    sale = Sale()
    limits = httpx.Limits(max_connections=200)
    async with httpx.AsyncClient(base_url=args.base_url, timeout=30, limits=limits) as client:
        start = time.monotonic() + 0.1
        step = args.ramp / max(len(tokens), 1)
        await asyncio.gather(
            *(
                _buyer(client, sale, i, event_id, seats[i], token, payment_tokens[i],
                       start + i * step, args.patience)
                for i, token in enumerate(tokens)
            )
        )  # fmt: skip
    return sale


def _probe(args, event_id, seats, token, payment_token) -> float:
    """Seconds until one buyer's hold, registration and booking all succeed (from now)."""
    started, timeout = time.monotonic(), args.probe_timeout
    auth = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=args.base_url, timeout=10) as client:
        for seat in seats:
            if time.monotonic() - started > timeout:
                break
            try:
                held = client.post(f"/api/v1/events/{event_id}/holds/", json={"seats": [seat]},
                                   headers=auth)  # fmt: skip
                if held.status_code != 201:
                    time.sleep(0.5)
                    continue
                body = {"hold": held.json()["id"]}
                if payment_token:
                    body["payment_token"] = payment_token
                key = uuid.uuid4().hex
                registered = None
                while time.monotonic() - started < timeout:
                    registered = client.post("/api/v1/registrations/", json=body,
                                             headers={**auth, "Idempotency-Key": key})  # fmt: skip
                    if registered.status_code not in RETRY_STATUSES:
                        break
                    time.sleep(0.5)
                if registered is None or registered.status_code not in (201, 202):
                    continue
                url = f"/api/v1/registrations/{registered.json()['tracking_id']}/"
                while time.monotonic() - started < timeout:
                    state = client.get(url, headers=auth)
                    if state.status_code == 200 and state.json()["status"] in FINAL:
                        break
                    time.sleep(0.2)
                if state.status_code == 200 and state.json()["status"] == "confirmed":
                    return time.monotonic() - started
            except httpx.HTTPError:
                time.sleep(0.5)
    return float("nan")


# --- the state afterwards ------------------------------------------------------------------


def _settle(event_id: int, timeout: float) -> None:
    from django.db import DatabaseError

    from registration_worker.models import Booking
    from shared.transient import drop_dead_database_connections

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if not Booking.objects.filter(
                event_id=event_id, status__in=["pending", "pending_payment"]
            ).exists():
                return
        except DatabaseError:  # the drill's own connection met the fault (a PostgreSQL restart)
            drop_dead_database_connections()
        time.sleep(0.5)


def _emails(since: float, references: set[str]) -> Counter:
    from django.conf import settings

    counts: Counter = Counter()
    parser = email.parser.BytesHeaderParser()
    for path in Path(settings.MAIL_SINK_DIR).glob("*.eml"):
        try:
            if int(path.name.split("-", 1)[0]) / 1e9 < since:
                continue
            with open(path, "rb") as fh:
                reference = parser.parsebytes(fh.read(8192)).get("X-Booking-Reference")
        except (OSError, ValueError):
            continue
        if reference in references:
            counts[reference] += 1
    return counts


def _charges(booking_ids: list[str]) -> Counter:
    ledger = ROOT / "var" / "bank_simulator.sqlite3"
    if not ledger.exists() or not booking_ids:
        return Counter()
    db = sqlite3.connect(f"file:{ledger}?mode=ro", uri=True)
    try:
        rows = db.execute(
            "SELECT idempotency_key FROM charges WHERE status = 'approved'"
        ).fetchall()
    finally:
        db.close()
    wanted = set(booking_ids)
    return Counter(key for (key,) in rows if key in wanted)


def measure(event_id: int, sale: Sale, since: float, args) -> dict:
    from registration_worker.models import Booking, Ticket
    from registration_worker.selectors import double_sold_seats
    from shared.locks import seat_locks

    _settle(event_id, args.settle)
    bookings = list(
        Booking.objects.filter(
            event_id=event_id, tracking_id__in=list(sale.accepted.values())
        ).values("id", "tracking_id", "status", "failure_reason", "reference")
    )
    by_tracking = {str(b["tracking_id"]): b for b in bookings}
    confirmed = [b for b in bookings if b["status"] == "confirmed"]
    failed = Counter(b["failure_reason"] or "?" for b in bookings if b["status"] in FINAL[1:])
    never_final = len(sale.accepted) - len(confirmed) - sum(failed.values())
    lost_buyers = sum(
        1
        for i in sale.held
        if by_tracking.get(sale.accepted.get(i, ""), {}).get("status") != "confirmed"
    )
    live = set(
        Ticket.objects.filter(event_id=event_id, seat__isnull=False)
        .exclude(status="cancelled")
        .values_list("seat_id", flat=True)
    )
    redis_sold = {int(s) for s in seat_locks().redis.smembers(f"tk:{{evt:{event_id}}}:sold")
                  if s.isdigit()}  # fmt: skip
    charges = _charges([str(b["id"]) for b in bookings])
    return {
        "accepted": len(sale.accepted),
        "confirmed": len(confirmed),
        "failed_by_reason": dict(failed),
        "never_final": never_final,
        "sold_twice": len(double_sold_seats(event_id)),
        "seats_lost": lost_buyers + len(redis_sold - live),
        # Counted once every scenario ran (check_emails): the notifier may have a backlog.
        "emails_missing": None,
        "emails_duplicated": None,
        "charges_duplicated": sum(n - 1 for n in charges.values() if n > 1),
        "non_json": sale.non_json,
        "http_500": sale.http_500,
        "buyers_gave_up": dict(sale.gave_up),
        "answers": dict(sorted(sale.statuses.items())),
        "_references": {b["reference"] for b in confirmed},
        "_since": since,
    }


def check_emails(results: dict, wait: float) -> None:
    """Emails per confirmed booking of every scenario, after waiting up to ``wait`` seconds for
    the notifier to deliver them all (each must arrive exactly once)."""
    references = set().union(*(r["_references"] for r in results.values()))
    since = min((r["_since"] for r in results.values()), default=time.time())
    deadline = time.monotonic() + wait
    while True:
        mails = _emails(since, references)
        if set(mails) >= references or time.monotonic() > deadline:
            break
        time.sleep(2)
    for r in results.values():
        mine = {ref: mails.get(ref, 0) for ref in r.pop("_references")}
        r.pop("_since")
        r["emails_missing"] = sum(1 for n in mine.values() if n == 0)
        r["emails_duplicated"] = sum(n - 1 for n in mine.values() if n > 1)


# --- the drill -----------------------------------------------------------------------------


def run_scenario(args, scenario: Scenario, tokens: list[str]) -> dict:
    from bench import setup
    from ticketing.services.event_rules import publish_event_rules

    buyers = len(tokens) - 1  # the last token is the probe's
    event = setup.create_event(buyers + 100, mode="queued", hold_ttl=args.hold_ttl)
    if scenario.paid:
        event.requires_payment = True
        event.save(update_fields=["requires_payment"])
        publish_event_rules(event)
    seats = setup.seat_ids(event)
    payment_tokens = [""] * len(tokens)
    if scenario.paid:
        from django.conf import settings

        with httpx.Client(base_url=settings.PAYMENT_PROVIDER_URL, timeout=10) as bank:
            payment_tokens = [bank.post("/tokens", json={}).json()["token"] for _ in tokens]
    since = time.time()
    outcome: dict = {}

    def fault():
        time.sleep(args.ramp / 3)
        injected_at = time.monotonic()
        state = scenario.inject()
        scenario.restore(state)
        outcome["fault_s"] = time.monotonic() - injected_at
        outcome["recovery_s"] = _probe(args, event.pk, seats[buyers:], tokens[-1],
                                       payment_tokens[-1])  # fmt: skip

    async def both():
        thread = asyncio.to_thread(fault)
        sale, _ = await asyncio.gather(
            _sale(args, event.pk, seats[:buyers], tokens[:buyers], payment_tokens), thread
        )
        return sale

    sale = asyncio.run(both())
    figures = measure(event.pk, sale, since, args)
    figures["fault_s"] = outcome.get("fault_s")
    figures["recovery_s"] = outcome.get("recovery_s")
    return figures


def main(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--base-url", default=os.environ.get("BENCH_URL", "http://127.0.0.1:8000"))
    parser.add_argument(
        "--only",
        default="",
        help="comma-separated scenarios (default: the ones that stop no shared service)",
    )
    parser.add_argument("--buyers", type=int, default=300)
    parser.add_argument("--ramp", type=float, default=15.0, help="seconds over which buyers arrive")
    parser.add_argument("--patience", type=float, default=120.0, help="how long a buyer retries")
    parser.add_argument("--hold-ttl", type=int, default=600)
    parser.add_argument("--settle", type=float, default=120.0, help="wait for pending bookings")
    parser.add_argument("--probe-timeout", type=float, default=120.0, help="then recovery_s=nan")
    parser.add_argument("--email-wait", type=float, default=600.0, help="after all scenarios")
    parser.add_argument("--bank-down-s", type=float, default=40.0)
    parser.add_argument("--smtp-down-s", type=float, default=60.0)
    parser.add_argument("--keep-events", action="store_true")
    args = parser.parse_args(argv)

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ticketing.settings")
    django.setup()
    logging.getLogger("httpx").setLevel(logging.WARNING)
    from bench import keycloak_users, setup
    from shared.transient import drop_dead_database_connections

    catalogue = scenarios(args)
    names = [n for n in args.only.split(",") if n] or [
        n for n, s in catalogue.items() if not s.shared
    ]
    unknown = set(names) - set(catalogue)
    if unknown:
        parser.error(f"unknown scenarios {sorted(unknown)}; choose from {list(catalogue)}")
    _wait_ready(args.base_url)
    keycloak_users.ensure_users(args.buyers + 1)
    results = {}
    try:
        for name in names:
            # Tokens valid for the whole scenario: Keycloak may be the fault.
            tokens = keycloak_users.access_tokens(args.buyers + 1, min_valid=280)
            print(f"\n== {name}", flush=True)
            drop_dead_database_connections()  # a fault before may have ended ours
            try:
                results[name] = run_scenario(args, catalogue[name], tokens)
            except Exception as exc:  # one broken scenario must not cost the others
                print(f"scenario_failed={name}: {exc!r}", flush=True)
                continue
            for key, value in results[name].items():
                if key.startswith("_") or value is None:
                    continue
                if isinstance(value, float):
                    value = f"{value:.1f}"
                elif isinstance(value, dict):
                    value = json.dumps(value, sort_keys=True)
                print(f"{name}.{key}={value}", flush=True)
        print(f"\n== emails (waiting up to {args.email_wait:.0f} s for the notifier)", flush=True)
        check_emails(results, args.email_wait)
        for name, r in results.items():
            print(f"{name}.emails_missing={r['emails_missing']}", flush=True)
            print(f"{name}.emails_duplicated={r['emails_duplicated']}", flush=True)
    finally:
        if not args.keep_events:
            setup.clean_up()
    _summary(results)


def _wait_ready(base_url: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            answer = httpx.get(f"{base_url}/readyz", timeout=5)
            if answer.status_code == 200:
                return
            problem = answer.text[:300]
        except httpx.HTTPError as exc:
            problem = repr(exc)
        if time.monotonic() > deadline:
            sys.exit(f"{base_url} is not ready ({problem}); start the platform with `make run`")
        time.sleep(1)


COLUMNS = (
    "accepted",
    "confirmed",
    "never_final",
    "sold_twice",
    "seats_lost",
    "emails_missing",
    "emails_duplicated",
    "charges_duplicated",
    "non_json",
    "http_500",
    "recovery_s",
)


def _summary(results: dict) -> None:
    print("\n== summary (all 0 except accepted, confirmed, recovery_s; failed by reason apart)")
    print("scenario".ljust(16) + "".join(c[:10].rjust(11) for c in COLUMNS) + "  failed")
    for name, r in results.items():
        cells = "".join(
            (f"{r[c]:.1f}" if isinstance(r[c], float) else str(r[c])).rjust(11) for c in COLUMNS
        )
        print(name.ljust(16) + cells + "  " + json.dumps(r["failed_by_reason"], sort_keys=True))


if __name__ == "__main__":
    main()
