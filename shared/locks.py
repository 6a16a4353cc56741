"""Seat holds in Redis: the one home of every seat-lock script and its rules.

Rules
-----
* Every key of an event carries the event's hash tag, ``tk:{evt:<id>}:...``, so each script
  touches a single Redis Cluster slot.
* ``seat:<seat_id>`` holds the id of the hold that owns the seat, with the hold's TTL.
  ``hold:<hold_id>`` is the hold record (owner, seats or quantity, expiry) with the same TTL.
* ``sold`` is the set of sold seat ids and ``seats`` the set of seat ids on sale. Both always
  contain the sentinel member ``-`` so that "empty" and "missing" differ: a missing set means
  Redis lost it (restart, flush) and it must be rebuilt from PostgreSQL before anyone holds.
* A hold is all-or-nothing: if any requested seat is unknown, sold or held, nothing is written
  and the script names the offending seats.
* Release and confirm are compare-and-delete: a seat key is deleted only while it still carries
  the caller's hold id, so an expired hold can never free somebody else's seat.
* General admission has no seat keys: ``ga:sold`` counts sold tickets, ``ga:holds`` (sorted by
  expiry) and ``ga:qty`` record live holds and ``ga:held`` their total; a hold is refused when
  sold + held + requested would pass the capacity.
* Redis only filters early. PostgreSQL's partial unique index on live tickets decides who owns a
  seat (a lease can expire under a slow worker, a failover can lose writes).

Scripts are registered once with redis-py, which calls them by SHA and loads them again when
Redis answers NOSCRIPT (after a restart or ``SCRIPT FLUSH``).
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import redis

from shared.redis_clients import redis_client

SENTINEL = "-"


def _prefix(event_id: int) -> str:
    return f"tk:{{evt:{event_id}}}"


def seat_key(event_id: int, seat_id: int | str) -> str:
    return f"{_prefix(event_id)}:seat:{seat_id}"


def hold_key(event_id: int, hold_id: str) -> str:
    return f"{_prefix(event_id)}:hold:{hold_id}"


def sold_key(event_id: int) -> str:
    return f"{_prefix(event_id)}:sold"


def seats_key(event_id: int) -> str:
    return f"{_prefix(event_id)}:seats"


def rules_key(event_id: int) -> str:
    return f"{_prefix(event_id)}:rules"


def _ga_keys(event_id: int) -> list[str]:
    p = _prefix(event_id)
    return [f"{p}:ga:sold", f"{p}:ga:holds", f"{p}:ga:qty", f"{p}:ga:held"]


def new_hold_id(event_id: int) -> str:
    """Hold ids name their event so a hold can be found from its id alone."""
    return f"{event_id}-{secrets.token_hex(12)}"


def event_of_hold(hold_id: str) -> int | None:
    head, _, tail = (hold_id or "").partition("-")
    if not head.isdigit() or len(tail) != 24:
        return None
    return int(head)


_NOW_MS = """
local t = redis.call('TIME')
local now_ms = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
"""

# KEYS: sold, seats, hold, seat keys...  ARGV: hold id, ttl ms, owner, seat ids (same order)
_HOLD_SEATS = (
    _NOW_MS
    + """
if redis.call('EXISTS', KEYS[1]) == 0 then return {'rebuild_sold'} end
if redis.call('EXISTS', KEYS[2]) == 0 then return {'load_seats'} end
local n = #ARGV - 3
local bad = {}
for i = 1, n do
  if redis.call('SISMEMBER', KEYS[2], ARGV[3 + i]) == 0 then bad[#bad + 1] = ARGV[3 + i] end
end
if #bad > 0 then return {'unknown', unpack(bad)} end
for i = 1, n do
  local seat = ARGV[3 + i]
  if redis.call('SISMEMBER', KEYS[1], seat) == 1 or redis.call('EXISTS', KEYS[3 + i]) == 1 then
    bad[#bad + 1] = seat
  end
end
if #bad > 0 then return {'taken', unpack(bad)} end
local ttl = tonumber(ARGV[2])
for i = 1, n do redis.call('SET', KEYS[3 + i], ARGV[1], 'PX', ttl) end
local expires = now_ms + ttl
redis.call('HSET', KEYS[3], 'owner', ARGV[3], 'seats', table.concat(ARGV, ',', 4),
           'quantity', n, 'expires_ms', expires)
redis.call('PEXPIRE', KEYS[3], ttl)
return {'ok', tostring(expires)}
"""
)

# KEYS: hold, seat keys...  ARGV: hold id, owner ('' skips the owner check)
_RELEASE_SEATS = """
if redis.call('EXISTS', KEYS[1]) == 0 then return {'gone'} end
if ARGV[2] ~= '' and redis.call('HGET', KEYS[1], 'owner') ~= ARGV[2] then return {'not_owner'} end
local released = 0
for i = 2, #KEYS do
  if redis.call('GET', KEYS[i]) == ARGV[1] then
    redis.call('DEL', KEYS[i])
    released = released + 1
  end
end
redis.call('DEL', KEYS[1])
return {'ok', tostring(released)}
"""

# KEYS: hold, seat keys...  ARGV: hold id, at least this many ms left afterwards
_CHECK_SEATS = """
if redis.call('EXISTS', KEYS[1]) == 0 then return {'expired'} end
local lost = {}
for i = 2, #KEYS do
  if redis.call('GET', KEYS[i]) ~= ARGV[1] then lost[#lost + 1] = KEYS[i] end
end
if #lost > 0 then return {'lost', unpack(lost)} end
local keep = tonumber(ARGV[2])
for i = 1, #KEYS do
  if redis.call('PTTL', KEYS[i]) < keep then redis.call('PEXPIRE', KEYS[i], keep) end
end
return {'ok'}
"""

# KEYS: hold, sold, seat keys...  ARGV: hold id, force ('1' after the database commit), seat ids
_CONFIRM_SEATS = """
if ARGV[2] ~= '1' then
  if redis.call('EXISTS', KEYS[1]) == 0 then return {'expired'} end
  for i = 3, #KEYS do
    if redis.call('GET', KEYS[i]) ~= ARGV[1] then return {'lost', ARGV[i]} end
  end
end
local has_sold = redis.call('EXISTS', KEYS[2]) == 1
for i = 3, #KEYS do
  -- A missing sold set is rebuilt from PostgreSQL, which already has these tickets.
  if has_sold then redis.call('SADD', KEYS[2], ARGV[i]) end
  if redis.call('GET', KEYS[i]) == ARGV[1] then redis.call('DEL', KEYS[i]) end
end
redis.call('DEL', KEYS[1])
return {'ok'}
"""

# KEYS: set  ARGV: members. Creates the set (with its sentinel) only if Redis lost it.
_REBUILD_SET = """
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('SADD', KEYS[1], '-')
for i = 1, #ARGV, 5000 do
  redis.call('SADD', KEYS[1], unpack(ARGV, i, math.min(i + 4999, #ARGV)))
end
return 1
"""

_GA_PRUNE = """
local expired = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now_ms)
for _, h in ipairs(expired) do
  local q = tonumber(redis.call('HGET', KEYS[3], h) or '0')
  redis.call('HDEL', KEYS[3], h)
  redis.call('ZREM', KEYS[2], h)
  redis.call('DECRBY', KEYS[4], q)
end
"""

# KEYS: ga sold, ga holds, ga qty, ga held, hold  ARGV: hold id, ttl ms, owner, quantity, capacity
_GA_HOLD = (
    _NOW_MS
    + _GA_PRUNE
    + """
if redis.call('EXISTS', KEYS[1]) == 0 then return {'rebuild_sold'} end
local qty = tonumber(ARGV[4])
local left = tonumber(ARGV[5]) - tonumber(redis.call('GET', KEYS[1]))
             - tonumber(redis.call('GET', KEYS[4]) or '0')
if qty > left then return {'sold_out', tostring(math.max(left, 0))} end
local ttl = tonumber(ARGV[2])
local expires = now_ms + ttl
redis.call('ZADD', KEYS[2], expires, ARGV[1])
redis.call('HSET', KEYS[3], ARGV[1], qty)
redis.call('INCRBY', KEYS[4], qty)
redis.call('HSET', KEYS[5], 'owner', ARGV[3], 'seats', '', 'quantity', qty, 'expires_ms', expires)
redis.call('PEXPIRE', KEYS[5], ttl)
return {'ok', tostring(expires)}
"""
)

# KEYS: ga sold, ga holds, ga qty, ga held, hold  ARGV: hold id, owner ('' skips the check)
_GA_RELEASE = (
    _NOW_MS
    + _GA_PRUNE
    + """
if redis.call('EXISTS', KEYS[5]) == 0 then return {'gone'} end
if ARGV[2] ~= '' and redis.call('HGET', KEYS[5], 'owner') ~= ARGV[2] then return {'not_owner'} end
local q = tonumber(redis.call('HGET', KEYS[3], ARGV[1]) or '0')
redis.call('HDEL', KEYS[3], ARGV[1])
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('DECRBY', KEYS[4], q)
redis.call('DEL', KEYS[5])
return {'ok', tostring(q)}
"""
)

# KEYS: ga sold, ga holds, ga qty, ga held, hold  ARGV: hold id, keep ms
_GA_CHECK = (
    _NOW_MS
    + _GA_PRUNE
    + """
if redis.call('EXISTS', KEYS[5]) == 0 or not redis.call('ZSCORE', KEYS[2], ARGV[1]) then
  return {'expired'}
end
local keep = tonumber(ARGV[2])
if tonumber(redis.call('ZSCORE', KEYS[2], ARGV[1])) < now_ms + keep then
  redis.call('ZADD', KEYS[2], now_ms + keep, ARGV[1])
end
if redis.call('PTTL', KEYS[5]) < keep then redis.call('PEXPIRE', KEYS[5], keep) end
return {'ok'}
"""
)

# KEYS: ga sold, ga holds, ga qty, ga held, hold  ARGV: hold id, force, quantity
_GA_CONFIRM = (
    _NOW_MS
    + _GA_PRUNE
    + """
local live = redis.call('ZSCORE', KEYS[2], ARGV[1])
if ARGV[2] ~= '1' and not live then return {'expired'} end
if live then
  local q = tonumber(redis.call('HGET', KEYS[3], ARGV[1]) or '0')
  redis.call('HDEL', KEYS[3], ARGV[1])
  redis.call('ZREM', KEYS[2], ARGV[1])
  redis.call('DECRBY', KEYS[4], q)
end
if redis.call('EXISTS', KEYS[1]) == 1 then redis.call('INCRBY', KEYS[1], tonumber(ARGV[3])) end
redis.call('DEL', KEYS[5])
return {'ok'}
"""
)


@dataclass(frozen=True)
class HoldResult:
    """What a hold attempt came to; ``status`` is ``ok`` or the reason it was refused."""

    status: str
    hold_id: str = ""
    expires_ms: int = 0
    seats: tuple[str, ...] = ()  # the unknown or taken seats when refused
    remaining: int | None = None  # general admission: tickets left when sold out

    @property
    def ok(self) -> bool:
        return self.status == "ok"


@dataclass(frozen=True)
class Hold:
    hold_id: str
    event_id: int
    owner: str
    seat_ids: tuple[int, ...]
    quantity: int
    expires_ms: int


def _decode(reply) -> list[str]:
    return [x.decode() if isinstance(x, bytes) else str(x) for x in reply]


class SeatLocks:
    """The seat-lock scripts bound to one Redis connection pool."""

    def __init__(self, client: redis.Redis):
        self.redis = client
        self._hold_seats = client.register_script(_HOLD_SEATS)
        self._release_seats = client.register_script(_RELEASE_SEATS)
        self._check_seats = client.register_script(_CHECK_SEATS)
        self._confirm_seats = client.register_script(_CONFIRM_SEATS)
        self._rebuild_set = client.register_script(_REBUILD_SET)
        self._ga_hold = client.register_script(_GA_HOLD)
        self._ga_release = client.register_script(_GA_RELEASE)
        self._ga_check = client.register_script(_GA_CHECK)
        self._ga_confirm = client.register_script(_GA_CONFIRM)

    # --- seated events -----------------------------------------------------------------
    def hold_seats(
        self, event_id: int, seat_ids: Sequence[int], owner: str, ttl_ms: int
    ) -> HoldResult:
        hold_id = new_hold_id(event_id)
        seats = [str(s) for s in seat_ids]
        keys = [sold_key(event_id), seats_key(event_id), hold_key(event_id, hold_id)]
        keys += [seat_key(event_id, s) for s in seats]
        reply = _decode(self._hold_seats(keys=keys, args=[hold_id, ttl_ms, owner, *seats]))
        if reply[0] == "ok":
            return HoldResult("ok", hold_id=hold_id, expires_ms=int(reply[1]))
        return HoldResult(reply[0], seats=tuple(reply[1:]))

    def release(self, hold: Hold, owner: str = "") -> bool:
        """Compare-and-delete the hold's keys; ``owner`` empty means the system releases it."""
        keys = [hold_key(hold.event_id, hold.hold_id)]
        if hold.seat_ids:
            keys += [seat_key(hold.event_id, s) for s in hold.seat_ids]
            reply = _decode(self._release_seats(keys=keys, args=[hold.hold_id, owner]))
        else:
            reply = _decode(
                self._ga_release(keys=_ga_keys(hold.event_id) + keys, args=[hold.hold_id, owner])
            )
        return reply[0] == "ok"

    def check(self, hold: Hold, keep_ms: int = 60_000) -> str:
        """``ok`` if the hold still owns everything it held (and then lasts ``keep_ms`` more).

        Extending the lease keeps it from running out while the booking transaction runs.
        """
        keys = [hold_key(hold.event_id, hold.hold_id)]
        if hold.seat_ids:
            keys += [seat_key(hold.event_id, s) for s in hold.seat_ids]
            return _decode(self._check_seats(keys=keys, args=[hold.hold_id, keep_ms]))[0]
        return _decode(
            self._ga_check(keys=_ga_keys(hold.event_id) + keys, args=[hold.hold_id, keep_ms])
        )[0]

    def confirm(self, hold: Hold, force: bool = False) -> str:
        """Move the hold's seats to sold and delete the hold, atomically.

        Without ``force`` it refuses (``expired``/``lost``) unless the hold still owns every
        seat. ``force`` is for after the database commit: the tickets exist, so the seats are
        sold whatever happened to the lease.
        """
        flag = "1" if force else "0"
        hk = hold_key(hold.event_id, hold.hold_id)
        if hold.seat_ids:
            keys = [hk, sold_key(hold.event_id)]
            keys += [seat_key(hold.event_id, s) for s in hold.seat_ids]
            args = [hold.hold_id, flag, *[str(s) for s in hold.seat_ids]]
            return _decode(self._confirm_seats(keys=keys, args=args))[0]
        keys = [*_ga_keys(hold.event_id), hk]
        return _decode(self._ga_confirm(keys=keys, args=[hold.hold_id, flag, hold.quantity]))[0]

    def get_hold(self, hold_id: str) -> Hold | None:
        event_id = event_of_hold(hold_id)
        if event_id is None:
            return None
        record = self.redis.hgetall(hold_key(event_id, hold_id))
        if not record:
            return None
        record = {k.decode(): v.decode() for k, v in record.items()}
        seats = tuple(int(s) for s in record["seats"].split(",") if s)
        return Hold(
            hold_id=hold_id,
            event_id=event_id,
            owner=record["owner"],
            seat_ids=seats,
            quantity=int(record["quantity"]),
            expires_ms=int(record["expires_ms"]),
        )

    # --- general admission --------------------------------------------------------------
    def hold_quantity(
        self, event_id: int, quantity: int, capacity: int, owner: str, ttl_ms: int
    ) -> HoldResult:
        hold_id = new_hold_id(event_id)
        keys = [*_ga_keys(event_id), hold_key(event_id, hold_id)]
        reply = _decode(self._ga_hold(keys=keys, args=[hold_id, ttl_ms, owner, quantity, capacity]))
        if reply[0] == "ok":
            return HoldResult("ok", hold_id=hold_id, expires_ms=int(reply[1]))
        if reply[0] == "sold_out":
            return HoldResult("sold_out", remaining=int(reply[1]))
        return HoldResult(reply[0])

    def ga_counts(self, event_id: int) -> tuple[int | None, int]:
        """(sold, held) for a general-admission event; sold is None when Redis lost it."""
        sold, held = self.redis.mget(_ga_keys(event_id)[0], _ga_keys(event_id)[3])
        return (int(sold) if sold is not None else None, int(held or 0))

    def rebuild_ga_sold(self, event_id: int, sold: int) -> bool:
        return bool(self.redis.set(_ga_keys(event_id)[0], sold, nx=True))

    # --- the sets PostgreSQL can rebuild ------------------------------------------------
    def rebuild_sold(self, event_id: int, sold_seat_ids: Iterable[int]) -> bool:
        """Recreate the sold set from PostgreSQL's live tickets, only if Redis lost it."""
        args = [str(s) for s in sold_seat_ids]
        return bool(self._rebuild_set(keys=[sold_key(event_id)], args=args))

    def load_seats(self, event_id: int, seat_ids: Iterable[int]) -> None:
        """Replace the set of seat ids on sale for an event (atomically, via a renamed copy)."""
        tmp = f"{seats_key(event_id)}:loading:{secrets.token_hex(4)}"
        ids = [str(s) for s in seat_ids]
        pipe = self.redis.pipeline(transaction=True)
        pipe.sadd(tmp, SENTINEL)
        for i in range(0, len(ids), 5000):
            pipe.sadd(tmp, *ids[i : i + 5000])
        pipe.rename(tmp, seats_key(event_id))
        pipe.execute()

    def add_sold(self, event_id: int, seat_ids: Iterable[int]) -> None:
        """Make sure these seats are in the sold set (reconciliation with PostgreSQL).

        Only adds: a seat leaves the sold set when its ticket is cancelled (``unsell``), never
        because a reconciliation read PostgreSQL a moment before a booking committed.
        """
        ids = [str(s) for s in seat_ids]
        if not self.rebuild_sold(event_id, ids) and ids:
            self.redis.sadd(sold_key(event_id), *ids)

    def unsell(self, event_id: int, seat_ids: Sequence[int] = (), quantity: int = 0) -> None:
        """Put cancelled tickets back on sale: seats leave the sold set, GA counts go down."""
        if seat_ids:
            self.redis.srem(sold_key(event_id), *[str(s) for s in seat_ids])
        if quantity:
            ga_sold = _ga_keys(event_id)[0]
            if self.redis.exists(ga_sold):
                self.redis.decrby(ga_sold, quantity)

    # --- reads --------------------------------------------------------------------------
    def seat_statuses(
        self, event_id: int, seat_ids: Sequence[int]
    ) -> tuple[set[int], set[int], bool]:
        """(held, sold, sold_set_present) for the given seats in one round trip."""
        pipe = self.redis.pipeline(transaction=False)
        pipe.smembers(sold_key(event_id))
        if seat_ids:
            pipe.mget([seat_key(event_id, s) for s in seat_ids])
        replies = pipe.execute()
        sold_raw = replies[0]
        sold = {int(s) for s in sold_raw if s != SENTINEL.encode()}
        held = set()
        if seat_ids:
            held = {s for s, v in zip(seat_ids, replies[1], strict=True) if v is not None}
        return held - sold, sold, bool(sold_raw)


_default: SeatLocks | None = None
_default_lock = threading.Lock()


def seat_locks() -> SeatLocks:
    """The process-wide SeatLocks on ``settings.REDIS_URL`` (db 0 holds the seat locks)."""
    global _default
    if _default is None:
        from django.conf import settings

        with _default_lock:
            if _default is None:
                _default = SeatLocks(redis_client(settings.REDIS_URL))
    return _default
