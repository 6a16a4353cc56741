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
* Fair shares: ``buyer:<owner>:holds`` (hold ids sorted by expiry) and ``buyer:<owner>:qty``
  (hold id -> tickets) are the buyer's live holds; every script that reads them first drops the
  entries whose expiry has passed, so a hold that ran out by TTL stops counting without anyone
  telling Redis. ``buyer:<owner>:booked`` (hold id of the booking -> tickets) is what the buyer
  bought: confirm writes it, a cancellation deletes its entry, and both are idempotent because
  the field is the hold id. A hold is refused (``limit``) when held + booked + requested would
  pass the event's per-buyer limit, inside the same script that takes the seats, so parallel
  requests of one buyer cannot all slip under it.
* ``buyers`` marks the booked hashes as complete. Like ``sold`` it goes missing when Redis loses
  its data; a hold that has a limit then answers ``rebuild_buyers`` and the caller rebuilds every
  buyer's booked hash from PostgreSQL before holding.
* Cool-down: a buyer's release writes ``buyer:<owner>:cool`` (seat -> until ms) and that buyer's
  holds of those seats are refused (``cooldown``) until then; other buyers are not affected.
  General admission has no seats, so a released quantity stays on the buyer's count (a ``~``
  entry in ``qty`` that expires with the cool-down) and blocks only what would pass the limit.
* A buyer may extend a live hold once (``extend``): one script moves the expiry of the hold
  record, its seat keys and the buyer's ledger together and marks the record ``extended``, so a
  second request, or one for another buyer's hold, changes nothing.
* Redis only filters early. PostgreSQL's partial unique index on live tickets decides who owns a
  seat (a lease can expire under a slow worker, a failover can lose writes).

Scripts are registered once with redis-py, which calls them by SHA and loads them again when
Redis answers NOSCRIPT (after a restart or ``SCRIPT FLUSH``).
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import redis
from redis.commands.core import Script

from shared.redis_clients import seat_lock_client
from shared.seat_changes import SEAT_CHANGE_LUA, expiry_key, publish_keys, seat_key
from shared.seat_changes import prefix as _prefix

__all__ = ["seat_key"]  # defined beside the seat-change log, which reads its TTL

SENTINEL = "-"


def hold_key(event_id: int, hold_id: str) -> str:
    return f"{_prefix(event_id)}:hold:{hold_id}"


def sold_key(event_id: int) -> str:
    return f"{_prefix(event_id)}:sold"


def seats_key(event_id: int) -> str:
    return f"{_prefix(event_id)}:seats"


def rules_key(event_id: int) -> str:
    return f"{_prefix(event_id)}:rules"


def buyers_marker_key(event_id: int) -> str:
    return f"{_prefix(event_id)}:buyers"


def buyer_keys(event_id: int, owner: str) -> list[str]:
    """The buyer's live holds (zset), their quantities, booked tickets and seat cool-downs."""
    p = f"{_prefix(event_id)}:buyer:{owner}"
    return [f"{p}:holds", f"{p}:qty", f"{p}:booked", f"{p}:cool"]


def rate_key(event_id: int, owner: str) -> str:
    return f"{_prefix(event_id)}:buyer:{owner}:rate"


@dataclass(frozen=True)
class RateLimit:
    """At most ``requests`` hold attempts per ``window_ms`` per buyer and event (0: no limit)."""

    requests: int
    window_ms: int


NO_RATE_LIMIT = RateLimit(0, 1)


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

# A fixed window per buyer and event: the first attempt of a window starts it. Counted inside the
# hold scripts, so the rate limit costs no round trip of its own; every attempt counts, refused
# ones too. Returns the milliseconds until the window ends when the limit is passed, else 0.
_RATE = """
local function rate_limited(key, limit, window_ms)
  if limit <= 0 then return 0 end
  local n = redis.call('INCR', key)
  if n == 1 then redis.call('PEXPIRE', key, window_ms) end
  if n <= limit then return 0 end
  local left = redis.call('PTTL', key)
  if left < 0 then
    redis.call('PEXPIRE', key, window_ms)
    left = window_ms
  end
  return left
end
"""

# The buyer's ledger: ``holds`` is a zset (hold id -> expiry ms), ``qty`` a hash (hold id ->
# tickets; ``~<hold id>`` for a general-admission release still cooling down).
_BUYER = """
local function buyer_held(holds, qty)
  local gone = redis.call('ZRANGEBYSCORE', holds, '-inf', now_ms)
  if #gone > 0 then
    redis.call('HDEL', qty, unpack(gone))
    redis.call('ZREMRANGEBYSCORE', holds, '-inf', now_ms)
  end
  local held, cooling, cool_until = 0, 0, 0
  local all = redis.call('HGETALL', qty)
  for i = 1, #all, 2 do
    if string.sub(all[i], 1, 1) == '~' then
      cooling = cooling + tonumber(all[i + 1])
      cool_until = math.max(cool_until, tonumber(redis.call('ZSCORE', holds, all[i]) or '0'))
    else
      held = held + tonumber(all[i + 1])
    end
  end
  return held, cooling, cool_until
end
local function hash_total(key)
  local total = 0
  for _, v in ipairs(redis.call('HVALS', key)) do total = total + tonumber(v) end
  return total
end
local function keep_alive(key, ms)
  if redis.call('PTTL', key) < ms then redis.call('PEXPIRE', key, ms) end
end
local function buyer_add(holds, qty, hold_id, n, expires)
  redis.call('ZADD', holds, expires, hold_id)
  redis.call('HSET', qty, hold_id, n)
  keep_alive(holds, expires - now_ms)
  keep_alive(qty, expires - now_ms)
end
local function buyer_drop(holds, qty, hold_id)
  redis.call('ZREM', holds, hold_id)
  redis.call('HDEL', qty, hold_id)
end
"""

# KEYS: sold, seats, hold, buyers marker, buyer holds, qty, booked, cool, rate,
#       change seq, changes, expiry, seat keys...
# ARGV: hold id, ttl ms, owner, per-buyer limit (0: none), rate limit (0: none), rate window ms,
#       seat ids (same order as the seat keys)
_HOLD_SEATS = (
    _NOW_MS
    + _RATE
    + _BUYER
    + SEAT_CHANGE_LUA
    + """
local A, K = 6, 12  -- fixed ARGV and KEYS before the seats
local wait_ms = rate_limited(KEYS[9], tonumber(ARGV[5]), tonumber(ARGV[6]))
if wait_ms > 0 then return {'rate_limited', tostring(wait_ms)} end
if redis.call('EXISTS', KEYS[1]) == 0 then return {'rebuild_sold'} end
if redis.call('EXISTS', KEYS[2]) == 0 then return {'load_seats'} end
local limit = tonumber(ARGV[4])
if limit > 0 and redis.call('EXISTS', KEYS[4]) == 0 then return {'rebuild_buyers'} end
local n = #ARGV - A
local bad = {}
for i = 1, n do
  if redis.call('SISMEMBER', KEYS[2], ARGV[A + i]) == 0 then bad[#bad + 1] = ARGV[A + i] end
end
if #bad > 0 then return {'unknown', unpack(bad)} end
local until_ms = redis.call('HMGET', KEYS[8], unpack(ARGV, A + 1))
local wait = 0
for i = 1, n do
  local u = tonumber(until_ms[i] or '0')
  if u > now_ms then
    bad[#bad + 1] = ARGV[A + i]
    wait = math.max(wait, u - now_ms)
  end
end
if #bad > 0 then return {'cooldown', tostring(wait), unpack(bad)} end
local held = buyer_held(KEYS[5], KEYS[6])
local booked = hash_total(KEYS[7])
if limit > 0 and held + booked + n > limit then
  return {'limit', tostring(held), tostring(booked)}
end
for i = 1, n do
  local seat = ARGV[A + i]
  if redis.call('SISMEMBER', KEYS[1], seat) == 1 or redis.call('EXISTS', KEYS[K + i]) == 1 then
    bad[#bad + 1] = seat
  end
end
if #bad > 0 then return {'taken', unpack(bad)} end
local ttl = tonumber(ARGV[2])
for i = 1, n do redis.call('SET', KEYS[K + i], ARGV[1], 'PX', ttl) end
local expires = now_ms + ttl
redis.call('HSET', KEYS[3], 'owner', ARGV[3], 'seats', table.concat(ARGV, ',', A + 1),
           'quantity', n, 'expires_ms', expires)
redis.call('PEXPIRE', KEYS[3], ttl)
buyer_add(KEYS[5], KEYS[6], ARGV[1], n, expires)
-- Watchers learn of it from the event's change log, in this same round trip.
local seats, seat_keys = {}, {}
for i = 1, n do
  seats[i] = ARGV[A + i]
  seat_keys[i] = KEYS[K + i]
end
seat_change(KEYS[10], KEYS[11], KEYS[12], seats, seat_keys, 'held')
return {'ok', tostring(expires)}
"""
)

# KEYS: hold, buyer holds, qty, cool, sold, change seq, changes, expiry, seat keys...
# ARGV: hold id, owner ('' skips the owner check), cool-down ms, seat ids (same order)
# The hold's seats that are free afterwards (no seat key, not sold) are announced
# ``available`` in the same script.
_RELEASE_SEATS = (
    _NOW_MS
    + _BUYER
    + SEAT_CHANGE_LUA
    + """
local K = 8  -- fixed KEYS before the seats; ARGV[3 + i] is the seat of KEYS[K + i]
if redis.call('EXISTS', KEYS[1]) == 0 then return {'gone'} end
if ARGV[2] ~= '' and redis.call('HGET', KEYS[1], 'owner') ~= ARGV[2] then return {'not_owner'} end
local cooldown = tonumber(ARGV[3])
local released = 0
local free = {}
for i = K + 1, #KEYS do
  local seat = ARGV[i - K + 3]
  if redis.call('GET', KEYS[i]) == ARGV[1] then
    redis.call('DEL', KEYS[i])
    released = released + 1
    if cooldown > 0 then redis.call('HSET', KEYS[4], seat, now_ms + cooldown) end
  end
  if redis.call('EXISTS', KEYS[i]) == 0 and redis.call('SISMEMBER', KEYS[5], seat) == 0 then
    free[#free + 1] = seat
  end
end
if cooldown > 0 and released > 0 then keep_alive(KEYS[4], cooldown) end
buyer_drop(KEYS[2], KEYS[3], ARGV[1])
redis.call('DEL', KEYS[1])
if #free > 0 then seat_change(KEYS[6], KEYS[7], KEYS[8], free, {}, 'available') end
return {'ok', tostring(released)}
"""
)

# KEYS: hold, buyer holds, qty, ga holds, seat expiry index, seat keys...
# ARGV: hold id, owner, extra ms, seat ids (same order). One script for both kinds: a seated
# hold has no entry in ``ga holds`` (ZADD XX leaves it alone), a general-admission hold has no
# seat keys. The seat expiry index (shared.seat_changes) learns the new time too, so watchers
# hear of the seats when the extended hold runs out.
_EXTEND = (
    _NOW_MS
    + _BUYER
    + """
if redis.call('EXISTS', KEYS[1]) == 0 then return {'gone'} end
if redis.call('HGET', KEYS[1], 'owner') ~= ARGV[2] then return {'not_owner'} end
local expires = tonumber(redis.call('HGET', KEYS[1], 'expires_ms'))
if redis.call('HGET', KEYS[1], 'extended') == '1' then return {'already', tostring(expires)} end
for i = 6, #KEYS do
  if redis.call('GET', KEYS[i]) ~= ARGV[1] then return {'gone'} end
end
expires = math.max(expires, now_ms) + tonumber(ARGV[3])
for i = 6, #KEYS do
  redis.call('PEXPIREAT', KEYS[i], expires)
  redis.call('ZADD', KEYS[5], 'XX', expires, ARGV[i - 2])
end
if #KEYS > 5 then keep_alive(KEYS[5], expires - now_ms + 60000) end
redis.call('HSET', KEYS[1], 'expires_ms', expires, 'extended', '1')
redis.call('PEXPIREAT', KEYS[1], expires)
redis.call('ZADD', KEYS[4], 'XX', expires, ARGV[1])
buyer_add(KEYS[2], KEYS[3], ARGV[1], redis.call('HGET', KEYS[1], 'quantity'), expires)
return {'ok', tostring(expires)}
"""
)

# KEYS: hold, buyer holds, qty, sold, seat keys...
# ARGV: hold id, at least this many ms left afterwards, owner, seat ids (same order)
_CHECK_SEATS = (
    _NOW_MS
    + _BUYER
    + """
local S = 4  -- fixed KEYS before the seats
local keep = tonumber(ARGV[2])
if redis.call('EXISTS', KEYS[1]) == 0 then
  -- The hold ended while its accepted registration waited (its lease ran out, or Redis lost
  -- it): its seats are taken back for it while no other hold owns them and none is sold. The
  -- ticket insert's unique index still refuses a seat PostgreSQL has sold.
  if redis.call('EXISTS', KEYS[S]) == 0 then return {'rebuild_sold'} end
  for i = S + 1, #KEYS do
    local owner = redis.call('GET', KEYS[i])
    if (owner and owner ~= ARGV[1]) or redis.call('SISMEMBER', KEYS[S], ARGV[i - 1]) == 1 then
      return {'expired'}
    end
  end
  for i = S + 1, #KEYS do redis.call('SET', KEYS[i], ARGV[1], 'PX', keep) end
  redis.call('HSET', KEYS[1], 'owner', ARGV[3], 'seats', table.concat(ARGV, ',', 4),
             'quantity', #KEYS - S, 'expires_ms', now_ms + keep)
end
local lost = {}
for i = S + 1, #KEYS do
  if redis.call('GET', KEYS[i]) ~= ARGV[1] then lost[#lost + 1] = KEYS[i] end
end
if #lost > 0 then return {'lost', unpack(lost)} end
keep_alive(KEYS[1], keep)
for i = S + 1, #KEYS do keep_alive(KEYS[i], keep) end
-- The longer lease keeps counting against the buyer's limit until the booking settles.
local q = redis.call('HGET', KEYS[1], 'quantity')
local score = tonumber(redis.call('ZSCORE', KEYS[2], ARGV[1]) or '0')
if score < now_ms + keep then buyer_add(KEYS[2], KEYS[3], ARGV[1], q, now_ms + keep) end
return {'ok'}
"""
)

# KEYS: hold, sold, buyers marker, buyer holds, qty, booked, change seq, changes, expiry,
#       seat keys...
# ARGV: hold id, force ('1' after the database commit), seat ids
# The seats that become sold are announced ``sold`` in the same script; a second confirm
# (a redelivered command) announces nothing.
_CONFIRM_SEATS = (
    SEAT_CHANGE_LUA
    + """
local K = 9  -- fixed KEYS before the seats; ARGV[2 + i] is the seat of KEYS[K + i]
if ARGV[2] ~= '1' then
  if redis.call('EXISTS', KEYS[1]) == 0 then return {'expired'} end
  for i = K + 1, #KEYS do
    if redis.call('GET', KEYS[i]) ~= ARGV[1] then return {'lost', ARGV[i - K + 2]} end
  end
end
local has_sold = redis.call('EXISTS', KEYS[2]) == 1
local sold = {}
for i = K + 1, #KEYS do
  local seat = ARGV[i - K + 2]
  -- A missing sold set is rebuilt from PostgreSQL, which already has these tickets.
  if not has_sold or redis.call('SADD', KEYS[2], seat) == 1 then sold[#sold + 1] = seat end
  if redis.call('GET', KEYS[i]) == ARGV[1] then redis.call('DEL', KEYS[i]) end
end
-- Held becomes booked; keyed by hold id, so a second confirm changes nothing.
redis.call('ZREM', KEYS[4], ARGV[1])
redis.call('HDEL', KEYS[5], ARGV[1])
if redis.call('EXISTS', KEYS[3]) == 1 then redis.call('HSET', KEYS[6], ARGV[1], #KEYS - K) end
redis.call('DEL', KEYS[1])
if #sold > 0 then seat_change(KEYS[7], KEYS[8], KEYS[9], sold, {}, 'sold') end
return {'ok'}
"""
)

_FILL_SET = """
local function fill_set(key)
  redis.call('SADD', key, '-')
  for i = 1, #ARGV, 5000 do
    redis.call('SADD', key, unpack(ARGV, i, math.min(i + 4999, #ARGV)))
  end
  return 1
end
"""

# KEYS: set  ARGV: members. Creates the set (with its sentinel) only if Redis lost it.
_REBUILD_SET = (
    _FILL_SET
    + """
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
return fill_set(KEYS[1])
"""
)

# KEYS: set  ARGV: members. Replaces the set (with its sentinel) atomically.
_REPLACE_SET = _FILL_SET + "redis.call('DEL', KEYS[1])\nreturn fill_set(KEYS[1])\n"

# KEYS: buyers marker, one booked hash per buyer
# ARGV: for each buyer in KEYS order: n, then n pairs of hold id and tickets
_REBUILD_BUYERS = """
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
local a = 1
for k = 2, #KEYS do
  redis.call('DEL', KEYS[k])
  local n = tonumber(ARGV[a])
  for j = 1, n do redis.call('HSET', KEYS[k], ARGV[a + 2 * j - 1], ARGV[a + 2 * j]) end
  a = a + 1 + 2 * n
end
redis.call('SET', KEYS[1], '-')
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

# KEYS: ga sold, ga holds, ga qty, ga held, hold, buyers marker, buyer holds, qty, booked, rate
# ARGV: hold id, ttl ms, owner, quantity, capacity, per-buyer limit (0: none),
#       rate limit (0: none), rate window ms
_GA_HOLD = (
    _NOW_MS
    + _RATE
    + _GA_PRUNE
    + _BUYER
    + """
local wait_ms = rate_limited(KEYS[10], tonumber(ARGV[7]), tonumber(ARGV[8]))
if wait_ms > 0 then return {'rate_limited', tostring(wait_ms)} end
if redis.call('EXISTS', KEYS[1]) == 0 then return {'rebuild_sold'} end
local limit = tonumber(ARGV[6])
if limit > 0 and redis.call('EXISTS', KEYS[6]) == 0 then return {'rebuild_buyers'} end
local qty = tonumber(ARGV[4])
local mine, cooling, cool_until = buyer_held(KEYS[7], KEYS[8])
local booked = hash_total(KEYS[9])
if limit > 0 and mine + booked + qty > limit then
  return {'limit', tostring(mine), tostring(booked)}
end
if limit > 0 and mine + booked + cooling + qty > limit then
  return {'cooldown', tostring(math.max(cool_until - now_ms, 0))}
end
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
buyer_add(KEYS[7], KEYS[8], ARGV[1], qty, expires)
return {'ok', tostring(expires)}
"""
)

# KEYS: ga sold, ga holds, ga qty, ga held, hold, buyer holds, qty
# ARGV: hold id, owner ('' skips the check), cool-down ms
_GA_RELEASE = (
    _NOW_MS
    + _GA_PRUNE
    + _BUYER
    + """
if redis.call('EXISTS', KEYS[5]) == 0 then return {'gone'} end
if ARGV[2] ~= '' and redis.call('HGET', KEYS[5], 'owner') ~= ARGV[2] then return {'not_owner'} end
local q = tonumber(redis.call('HGET', KEYS[3], ARGV[1]) or '0')
redis.call('HDEL', KEYS[3], ARGV[1])
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('DECRBY', KEYS[4], q)
redis.call('DEL', KEYS[5])
buyer_drop(KEYS[6], KEYS[7], ARGV[1])
local cooldown = tonumber(ARGV[3])
if cooldown > 0 and q > 0 then buyer_add(KEYS[6], KEYS[7], '~' .. ARGV[1], q, now_ms + cooldown) end
return {'ok', tostring(q)}
"""
)

# KEYS: ga sold, ga holds, ga qty, ga held, hold, buyer holds, qty  ARGV: hold id, keep ms
_GA_CHECK = (
    _NOW_MS
    + _GA_PRUNE
    + _BUYER
    + """
if redis.call('EXISTS', KEYS[5]) == 0 or not redis.call('ZSCORE', KEYS[2], ARGV[1]) then
  return {'expired'}
end
local keep = tonumber(ARGV[2])
if tonumber(redis.call('ZSCORE', KEYS[2], ARGV[1])) < now_ms + keep then
  redis.call('ZADD', KEYS[2], now_ms + keep, ARGV[1])
end
if redis.call('PTTL', KEYS[5]) < keep then redis.call('PEXPIRE', KEYS[5], keep) end
local score = tonumber(redis.call('ZSCORE', KEYS[6], ARGV[1]) or '0')
if score < now_ms + keep then
  buyer_add(KEYS[6], KEYS[7], ARGV[1], redis.call('HGET', KEYS[5], 'quantity'), now_ms + keep)
end
return {'ok'}
"""
)

# KEYS: ga sold, ga holds, ga qty, ga held, hold, buyers marker, buyer holds, qty, booked
# ARGV: hold id, force, quantity
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
-- Held becomes booked; keyed by hold id, so a second confirm changes nothing.
redis.call('ZREM', KEYS[7], ARGV[1])
redis.call('HDEL', KEYS[8], ARGV[1])
if redis.call('EXISTS', KEYS[6]) == 1 then redis.call('HSET', KEYS[9], ARGV[1], ARGV[3]) end
redis.call('DEL', KEYS[5])
return {'ok'}
"""
)


# A registered script with its KEYS and ARGV, ready to run alone or in a pipeline.
_ScriptCall = tuple[Script, list, list]


@dataclass(frozen=True)
class HoldResult:
    """What a hold attempt came to; ``status`` is ``ok`` or the reason it was refused."""

    status: str
    hold_id: str = ""
    expires_ms: int = 0
    seats: tuple[str, ...] = ()  # the unknown, taken or cooling seats when refused
    remaining: int | None = None  # general admission: tickets left when sold out
    held: int = 0  # ``limit``: what the buyer already holds and has booked
    booked: int = 0
    retry_ms: int = 0  # ``cooldown``, ``rate_limited``: how long until a retry may succeed

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
    extended: bool = False  # the buyer used their one extension


def _decode(reply) -> list[str]:
    return [x.decode() if isinstance(x, bytes) else str(x) for x in reply]


def _refusal(reply: list[str]) -> HoldResult:
    if reply[0] == "rate_limited":
        return HoldResult("rate_limited", retry_ms=int(reply[1]))
    if reply[0] == "limit":
        return HoldResult("limit", held=int(reply[1]), booked=int(reply[2]))
    if reply[0] == "cooldown":
        return HoldResult("cooldown", retry_ms=int(reply[1]), seats=tuple(reply[2:]))
    return HoldResult(reply[0], seats=tuple(reply[1:]))


def _hold_from_record(hold_id: str, event_id: int, raw: dict) -> Hold:
    record = {k.decode(): v.decode() for k, v in raw.items()}
    return Hold(
        hold_id=hold_id,
        event_id=event_id,
        owner=record["owner"],
        seat_ids=tuple(int(s) for s in record["seats"].split(",") if s),
        quantity=int(record["quantity"]),
        expires_ms=int(record["expires_ms"]),
        extended=record.get("extended") == "1",
    )


class SeatLocks:
    """The seat-lock scripts bound to one Redis connection pool."""

    def __init__(self, client: redis.Redis | redis.RedisCluster):
        self.redis = client
        self._hold_seats = client.register_script(_HOLD_SEATS)
        self._release_seats = client.register_script(_RELEASE_SEATS)
        self._check_seats = client.register_script(_CHECK_SEATS)
        self._confirm_seats = client.register_script(_CONFIRM_SEATS)
        self._rebuild_set = client.register_script(_REBUILD_SET)
        self._replace_set = client.register_script(_REPLACE_SET)
        self._rebuild_buyers = client.register_script(_REBUILD_BUYERS)
        self._ga_hold = client.register_script(_GA_HOLD)
        self._ga_release = client.register_script(_GA_RELEASE)
        self._ga_check = client.register_script(_GA_CHECK)
        self._ga_confirm = client.register_script(_GA_CONFIRM)
        self._extend = client.register_script(_EXTEND)

    # --- seated events -----------------------------------------------------------------
    def hold_seats(
        self,
        event_id: int,
        seat_ids: Sequence[int],
        owner: str,
        ttl_ms: int,
        limit: int = 0,
        rate: RateLimit | None = None,
    ) -> HoldResult:
        """Hold every seat or none; ``limit`` caps the buyer's held + booked seats (0: no cap),
        ``rate`` the buyer's attempts on this event (``rate_limited`` with ``retry_ms``)."""
        hold_id = new_hold_id(event_id)
        seats = [str(s) for s in seat_ids]
        rate = rate or NO_RATE_LIMIT
        keys = [sold_key(event_id), seats_key(event_id), hold_key(event_id, hold_id)]
        keys += [buyers_marker_key(event_id), *buyer_keys(event_id, owner)]
        keys += [rate_key(event_id, owner), *publish_keys(event_id)]
        keys += [seat_key(event_id, s) for s in seats]
        args = [hold_id, ttl_ms, owner, limit, rate.requests, rate.window_ms, *seats]
        reply = _decode(self._hold_seats(keys=keys, args=args))
        if reply[0] == "ok":
            return HoldResult("ok", hold_id=hold_id, expires_ms=int(reply[1]))
        return _refusal(reply)

    def release(self, hold: Hold, owner: str = "", cooldown_ms: int = 0) -> bool:
        """Compare-and-delete the hold's keys; ``owner`` empty means the system releases it.

        ``cooldown_ms`` keeps the hold's owner from holding the same seats again that long.
        The seats that are free afterwards are announced ``available`` by the same script.
        """
        keys = [hold_key(hold.event_id, hold.hold_id)]
        holds, qty, _, cool = buyer_keys(hold.event_id, hold.owner)
        if hold.seat_ids:
            keys += [holds, qty, cool, sold_key(hold.event_id), *publish_keys(hold.event_id)]
            keys += [seat_key(hold.event_id, s) for s in hold.seat_ids]
            args = [hold.hold_id, owner, cooldown_ms, *[str(s) for s in hold.seat_ids]]
            reply = _decode(self._release_seats(keys=keys, args=args))
        else:
            keys = [*_ga_keys(hold.event_id), *keys, holds, qty]
            reply = _decode(self._ga_release(keys=keys, args=[hold.hold_id, owner, cooldown_ms]))
        return reply[0] == "ok"

    def check(self, hold: Hold, keep_ms: int = 60_000) -> str:
        """``ok`` if the hold still owns everything it held (and then lasts ``keep_ms`` more).

        Extending the lease keeps it from running out while the booking transaction runs. A
        seated hold that vanished gets its seats back when nobody else has them; that needs
        the sold set: ``rebuild_sold`` when Redis lost it (rebuild it, then check again).
        """
        script, keys, args = self._check_call(hold, keep_ms)
        return _decode(script(keys=keys, args=args))[0]

    def _check_call(self, hold: Hold, keep_ms: int) -> _ScriptCall:
        keys = [hold_key(hold.event_id, hold.hold_id)]
        keys += buyer_keys(hold.event_id, hold.owner)[:2]
        if hold.seat_ids:
            keys += [sold_key(hold.event_id)]
            keys += [seat_key(hold.event_id, s) for s in hold.seat_ids]
            seats = [str(s) for s in hold.seat_ids]
            return self._check_seats, keys, [hold.hold_id, keep_ms, hold.owner, *seats]
        return self._ga_check, _ga_keys(hold.event_id) + keys, [hold.hold_id, keep_ms]

    def confirm(self, hold: Hold, force: bool = False) -> str:
        """Move the hold's seats to sold and delete the hold, atomically.

        Without ``force`` it refuses (``expired``/``lost``) unless the hold still owns every
        seat. ``force`` is for after the database commit: the tickets exist, so the seats are
        sold whatever happened to the lease.
        """
        script, keys, args = self._confirm_call(hold, force)
        return _decode(script(keys=keys, args=args))[0]

    def _confirm_call(self, hold: Hold, force: bool) -> _ScriptCall:
        flag = "1" if force else "0"
        hk = hold_key(hold.event_id, hold.hold_id)
        buyer = [buyers_marker_key(hold.event_id), *buyer_keys(hold.event_id, hold.owner)[:3]]
        if hold.seat_ids:
            keys = [hk, sold_key(hold.event_id), *buyer, *publish_keys(hold.event_id)]
            keys += [seat_key(hold.event_id, s) for s in hold.seat_ids]
            return self._confirm_seats, keys, [hold.hold_id, flag, *map(str, hold.seat_ids)]
        keys = [*_ga_keys(hold.event_id), hk, *buyer]
        return self._ga_confirm, keys, [hold.hold_id, flag, hold.quantity]

    def extend(self, hold: Hold, owner: str, extra_ms: int) -> tuple[str, int]:
        """Give the owner's hold ``extra_ms`` more, once: (``ok``/``already``, expiry ms), or
        (``gone``/``not_owner``, 0)."""
        holds, qty, _, _ = buyer_keys(hold.event_id, owner)
        keys = [hold_key(hold.event_id, hold.hold_id), holds, qty, _ga_keys(hold.event_id)[1]]
        keys += [expiry_key(hold.event_id), *[seat_key(hold.event_id, s) for s in hold.seat_ids]]
        args = [hold.hold_id, owner, extra_ms, *[str(s) for s in hold.seat_ids]]
        reply = _decode(self._extend(keys=keys, args=args))
        return reply[0], int(reply[1]) if len(reply) > 1 else 0

    def live_holds(self, event_id: int, owner: str) -> list[Hold]:
        """The buyer's holds of an event that have not expired, oldest expiry first."""
        holds = buyer_keys(event_id, owner)[0]
        now_ms = int(time.time() * 1000)
        ids = [
            h.decode()
            for h in self.redis.zrangebyscore(holds, f"({now_ms}", "+inf")
            if not h.startswith(b"~")  # a general-admission release cooling down
        ]
        if not ids:
            return []
        pipe = self.redis.pipeline(transaction=False)
        for hold_id in ids:
            pipe.hgetall(hold_key(event_id, hold_id))
        found = [
            _hold_from_record(hold_id, event_id, record)
            for hold_id, record in zip(ids, pipe.execute(), strict=True)
            if record  # a hold being booked keeps its ledger entry after its record is gone
        ]
        return [h for h in found if h.owner == owner and h.expires_ms > now_ms]

    def get_hold(self, hold_id: str) -> Hold | None:
        event_id = event_of_hold(hold_id)
        if event_id is None:
            return None
        record = self.redis.hgetall(hold_key(event_id, hold_id))
        return _hold_from_record(hold_id, event_id, record) if record else None

    # --- general admission --------------------------------------------------------------
    def hold_quantity(
        self,
        event_id: int,
        quantity: int,
        capacity: int,
        owner: str,
        ttl_ms: int,
        limit: int = 0,
        rate: RateLimit | None = None,
    ) -> HoldResult:
        hold_id = new_hold_id(event_id)
        rate = rate or NO_RATE_LIMIT
        keys = [*_ga_keys(event_id), hold_key(event_id, hold_id), buyers_marker_key(event_id)]
        keys += [*buyer_keys(event_id, owner)[:3], rate_key(event_id, owner)]
        args = [hold_id, ttl_ms, owner, quantity, capacity, limit, rate.requests, rate.window_ms]
        reply = _decode(self._ga_hold(keys=keys, args=args))
        if reply[0] == "ok":
            return HoldResult("ok", hold_id=hold_id, expires_ms=int(reply[1]))
        if reply[0] == "sold_out":
            return HoldResult("sold_out", remaining=int(reply[1]))
        return _refusal(reply)

    # --- fair shares --------------------------------------------------------------------
    def rebuild_buyers(self, event_id: int, booked: dict[str, dict[str, int]]) -> bool:
        """Recreate every buyer's booked tickets (owner -> hold id -> tickets) from PostgreSQL,
        only if Redis lost them."""
        keys = [buyers_marker_key(event_id)]
        args: list = []
        for owner, by_hold in booked.items():
            keys.append(buyer_keys(event_id, owner)[2])
            args.append(len(by_hold))
            for hold_id, tickets in by_hold.items():
                args += [hold_id, tickets]
        return bool(self._rebuild_buyers(keys=keys, args=args))

    def buyer_usage(self, event_id: int, owner: str) -> tuple[int, int]:
        """(held, booked) tickets of a buyer: live holds and bookings not cancelled."""
        holds, qty, booked, _ = buyer_keys(event_id, owner)
        now_ms = int(time.time() * 1000)

        def fill(pipe):
            pipe.zrangebyscore(holds, f"({now_ms}", "+inf")
            pipe.hgetall(qty)
            pipe.hvals(booked)

        live, quantities, sold = self._round_trip(holds, fill)
        held = sum(int(quantities.get(h, 0)) for h in live if not h.startswith(b"~"))
        return held, sum(int(v) for v in sold)

    def forget_booking(self, event_id: int, owner: str, hold_id: str) -> None:
        """A cancelled booking stops counting against its buyer's limit."""
        self.redis.hdel(buyer_keys(event_id, owner)[2], hold_id)

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
        """Replace the set of seat ids on sale for an event (atomically: one script)."""
        self._replace_set(keys=[seats_key(event_id)], args=[str(s) for s in seat_ids])

    def add_sold(self, event_id: int, seat_ids: Iterable[int]) -> None:
        """Make sure these seats are in the sold set (reconciliation with PostgreSQL).

        Only adds: a seat leaves the sold set when its ticket is cancelled (``unsell``), never
        because a reconciliation read PostgreSQL a moment before a booking committed.
        """
        ids = [str(s) for s in seat_ids]
        if not self.rebuild_sold(event_id, ids) and ids:
            self.redis.sadd(sold_key(event_id), *ids)

    def unsell(
        self,
        event_id: int,
        seat_ids: Sequence[int] = (),
        quantity: int = 0,
        owner: str = "",
        hold_id: str = "",
    ) -> None:
        """Put cancelled tickets back on sale: seats leave the sold set, GA counts go down,
        and the booking (named by its hold id) stops counting against its buyer's limit."""
        if owner and hold_id:
            self.forget_booking(event_id, owner, hold_id)
        if seat_ids:
            self.redis.srem(sold_key(event_id), *[str(s) for s in seat_ids])
        if quantity:
            ga_sold = _ga_keys(event_id)[0]
            if self.redis.exists(ga_sold):
                self.redis.decrby(ga_sold, quantity)

    def slot_owner(self, event_id: int) -> str | None:
        """``host:port`` of the node this client sends the event's slot to; None on a single
        Redis or while no node covers the slot."""
        if not isinstance(self.redis, redis.RedisCluster):
            return None
        try:
            slot = self.redis.keyslot(sold_key(event_id))
            return self.redis.nodes_manager.get_node_from_slot(slot).name
        except redis.exceptions.RedisClusterException:
            return None

    # --- reads --------------------------------------------------------------------------
    def seat_statuses(
        self, event_id: int, seat_ids: Sequence[int]
    ) -> tuple[set[int], set[int], bool]:
        """(held, sold, sold_set_present) for the given seats in one round trip."""

        def fill(pipe):
            pipe.smembers(sold_key(event_id))
            if seat_ids:
                pipe.mget([seat_key(event_id, s) for s in seat_ids])

        replies = self._round_trip(sold_key(event_id), fill)
        sold_raw = replies[0]
        sold = {int(s) for s in sold_raw if s != SENTINEL.encode()}
        held = set()
        if seat_ids:
            held = {s for s, v in zip(seat_ids, replies[1], strict=True) if v is not None}
        return held - sold, sold, bool(sold_raw)

    # --- batches (the booking worker) ---------------------------------------------------
    # The same scripts as ``check`` and ``confirm``, one per hold, sent in one pipeline: one
    # round trip for a whole batch of bookings. Each script stays atomic on its own hold.
    def check_many(self, holds: Sequence[Hold], keep_ms: int = 60_000) -> list[str]:
        """``check`` for every hold, in order, in one round trip."""
        replies = self._run_all([self._check_call(hold, keep_ms) for hold in holds])
        return [_decode(reply)[0] for reply in replies]

    def confirm_many(self, holds: Sequence[Hold]) -> None:
        """``confirm(force=True)`` for every hold in one round trip: after the commit only."""
        self._run_all([self._confirm_call(hold, True) for hold in holds])

    def _run_all(self, calls: Sequence[_ScriptCall]) -> list:
        """Run scripts in order, pipelined: one round trip on one server, one per slot on a
        Redis Cluster (one for the usual batch of a single event). Only for scripts that may
        run twice (check, confirm with force): a pipeline that fails on a cluster is sent again
        once the client has learnt the new owner of the slot."""
        if not calls:
            return []
        groups: dict[int, list[int]] = {}
        for i, (_, keys, _) in enumerate(calls):
            groups.setdefault(self._slot(keys[0]), []).append(i)
        replies: list = [None] * len(calls)
        for indexes in groups.values():

            def fill(pipe, indexes=indexes):
                for i in indexes:
                    script, keys, args = calls[i]
                    script(keys=keys, args=args, client=pipe)

            first_key = calls[indexes[0]][1][0]
            for i, reply in zip(indexes, self._round_trip(first_key, fill), strict=True):
                replies[i] = reply
        return replies

    # --- pipelines on one server or one cluster slot ------------------------------------
    def _slot(self, key: str) -> int:
        return self.redis.keyslot(key) if isinstance(self.redis, redis.RedisCluster) else 0

    def _round_trip(self, key: str, fill: Callable) -> list:
        """``fill(pipe)`` then send it in one round trip to the Redis that holds ``key``.

        redis-py's cluster pipeline refuses scripts and multi-key commands, although they
        are fine within one slot; so on a cluster the pipeline goes straight to the node that
        owns the key's slot (every key of ``fill`` must share that slot). If that fails (a
        failover, a moved slot) the client relearns the slots and the pipeline is sent once
        more: ``fill`` must be safe to run twice.
        """
        if not isinstance(self.redis, redis.RedisCluster):
            pipe = self.redis.pipeline(transaction=False)
            fill(pipe)
            return pipe.execute()
        try:
            return self._node_round_trip(key, fill)
        except (redis.ConnectionError, redis.TimeoutError, redis.ResponseError):
            self.redis.nodes_manager.initialize()
            return self._node_round_trip(key, fill)

    def _node_round_trip(self, key: str, fill: Callable) -> list:
        node = self.redis.get_node_from_key(key)
        pipe = self.redis.get_redis_connection(node).pipeline(transaction=False)
        fill(pipe)
        return pipe.execute()


_default: SeatLocks | None = None
_default_lock = threading.Lock()


def seat_locks() -> SeatLocks:
    """The process-wide SeatLocks on the seat-lock Redis: ``settings.REDIS_CLUSTER_NODES`` when
    set (a Redis Cluster), else ``settings.REDIS_URL``."""
    global _default
    if _default is None:
        with _default_lock:
            if _default is None:
                _default = SeatLocks(seat_lock_client())
    return _default
