"""Every key a seat-lock or seat-change script touches is declared in its KEYS and lies in the
event's Redis Cluster slot.

The keys are not copied here: Redis's MONITOR reports every command a client sends and every
command a Lua script runs (``client_type == 'lua'``), and ``COMMAND GETKEYS`` names the keys
of each. So the test follows whatever the code sends, and it fails when a script builds a key
it did not declare (a cluster routes a script by its KEYS only) or leaves the event's slot.
"""

import threading
import time

import redis
from django.conf import settings
from redis.cluster import key_slot
from redis.commands.core import Script

from shared.locks import RateLimit, SeatLocks, seat_key
from shared.redis_clients import redis_client
from shared.seat_changes import SeatChangeLog, expiry_key

EVENT = 9_200_001
MINUTE = 60_000


def exercise(locks: SeatLocks, log: SeatChangeLog, event: int) -> dict:
    """Every script and pipeline of the seat locks and the change log, once, on ``event``."""
    rate = RateLimit(100, MINUTE)
    locks.load_seats(event, range(1, 9))
    locks.rebuild_sold(event, [8])
    locks.rebuild_buyers(event, {"A": {f"{event}-{'0' * 24}": 1}})
    locks.rebuild_ga_sold(event, 0)
    outcome = {}
    bought = locks.hold_seats(event, [1, 2], "A", MINUTE, limit=4, rate=rate)
    hold = locks.get_hold(bought.hold_id)
    outcome["check"] = (locks.check(hold), locks.check_many([hold]))
    locks.confirm_many([hold])
    outcome["confirm again"] = locks.confirm(hold, force=True)
    released = locks.hold_seats(event, [3], "B", MINUTE, rate=rate)
    outcome["release"] = locks.release(locks.get_hold(released.hold_id), "B", cooldown_ms=MINUTE)
    single = locks.hold_seats(event, [4], "C", MINUTE)
    outcome["confirm"] = locks.confirm(locks.get_hold(single.hold_id))
    outcome["taken"] = locks.hold_seats(event, [4, 5], "D", MINUTE).status
    ga = locks.hold_quantity(event, 2, 10, "E", MINUTE, limit=4, rate=rate)
    ga_hold = locks.get_hold(ga.hold_id)
    outcome["ga"] = (locks.check(ga_hold), locks.confirm(ga_hold))
    ga_released = locks.hold_quantity(event, 1, 10, "E", MINUTE)
    outcome["ga release"] = locks.release(locks.get_hold(ga_released.hold_id), "E", MINUTE)
    outcome["statuses"] = locks.seat_statuses(event, [1, 2, 3, 4, 5])
    outcome["usage"] = locks.buyer_usage(event, "A")
    outcome["ga counts"] = locks.ga_counts(event)
    extra = locks.hold_seats(event, [5], "G", MINUTE)
    outcome["extend"] = locks.extend(locks.get_hold(extra.hold_id), "G", MINUTE)[0]
    outcome["live holds"] = [h.hold_id for h in locks.live_holds(event, "G")] == [extra.hold_id]
    locks.add_sold(event, [6])
    locks.unsell(event, [6], quantity=1, owner="A", hold_id=hold.hold_id)
    # A hold that ran out by TTL: its seat key is gone and its expiry is due.
    ran_out = locks.hold_seats(event, [7], "F", MINUTE)
    locks.redis.delete(seat_key(event, 7))
    locks.redis.zadd(expiry_key(event), {"7": 0})
    outcome["sweep"] = log.sweep(event) > 0
    outcome["append"] = log.append(event, [5], "available") > 0
    outcome["ran out"] = ran_out.ok
    return outcome


EXPECTED = {
    "check": ("ok", ["ok"]),
    "confirm again": "ok",
    "release": True,
    "confirm": "ok",
    "taken": "taken",
    "ga": ("ok", "ok"),
    "ga release": True,
    "statuses": (set(), {1, 2, 4, 8}, True),
    "usage": (0, 3),  # A's rebuilt booking (1) and the two seats A bought
    "ga counts": (2, 0),
    "extend": "ok",
    "live holds": True,
    "sweep": True,
    "append": True,
    "ran out": True,
}


def scripts_of(*objects) -> dict[str, str]:
    """sha -> attribute name of every script the objects registered."""
    return {v.sha: n for o in objects for n, v in vars(o).items() if isinstance(v, Script)}


class Monitor:
    """MONITOR on the test Redis in a thread: every command of our database, in order."""

    def __init__(self, url: str):
        self.client = redis.Redis.from_url(url)
        self.db = self.client.connection_pool.connection_kwargs.get("db", 0)
        self.commands: list[dict] = []
        self.thread = threading.Thread(target=self._listen, daemon=True)

    def _listen(self):
        with self.client.monitor() as monitor:
            for command in monitor.listen():
                if command["db"] == self.db:
                    self.commands.append(command)
                if command["command"] == "ECHO monitor-stop":
                    return

    def __enter__(self):
        self.thread.start()
        deadline = time.monotonic() + 5
        while not any(c["command"] == "ECHO monitor-start" for c in self.commands):
            assert time.monotonic() < deadline, "MONITOR did not start"
            self.client.echo("monitor-start")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc):
        self.client.echo("monitor-stop")
        self.thread.join(timeout=5)
        self.client.close()


def keys_of(client: redis.Redis, args: list[str]) -> list[str]:
    try:
        return [k.decode() if isinstance(k, bytes) else k for k in client.command_getkeys(*args)]
    except redis.ResponseError:  # a command without keys (ECHO, SCRIPT, ...)
        return []


def test_every_script_declares_the_keys_it_touches_and_all_share_the_events_slot():
    client = redis_client(settings.REDIS_URL)
    locks, log = SeatLocks(client), SeatChangeLog(client)
    scripts = scripts_of(locks, log)

    with Monitor(settings.REDIS_URL) as monitor:
        outcome = exercise(locks, log, EVENT)

    assert outcome == EXPECTED
    event_slot = key_slot(f"tk:{{evt:{EVENT}}}".encode())
    ran, undeclared, elsewhere = set(), [], []
    script, declared = "", []
    for command in monitor.commands:
        args = command["command"].split()
        if command["client_type"] == "lua":
            keys = keys_of(client, args)
            undeclared += [(script, args[0], k) for k in keys if k not in declared]
        elif args[0].upper() == "EVALSHA":
            sha, numkeys = args[1], int(args[2])
            ran.add(sha)
            script = scripts.get(sha, sha)
            keys = declared = args[3 : 3 + numkeys]
        else:
            keys = keys_of(client, args)
        elsewhere += [k for k in keys if key_slot(k.encode()) != event_slot]

    assert set(scripts) <= ran, f"not exercised: {[scripts[s] for s in set(scripts) - ran]}"
    assert undeclared == []
    assert elsewhere == []


def test_every_script_and_pipeline_works_on_the_redis_cluster(redis_cluster):
    # given the seat locks and the change log on a RedisCluster client
    from shared.redis_clients import redis_cluster_client

    client = redis_cluster_client(redis_cluster)
    # when the same operations run there, then they give the same answers as on one server
    assert exercise(SeatLocks(client), SeatChangeLog(client), EVENT) == EXPECTED
