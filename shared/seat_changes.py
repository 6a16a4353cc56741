"""The per-event log of seat changes: a sequence number and a Redis stream beside the seat locks.

One change (seats that now have one status) is one stream entry whose id is ``<seq>-0``, where
``seq`` is the event's sequence number, incremented in the same script. The keys carry the
event's hash tag, like the seat locks, so one script can take seats and log the change on one
Redis Cluster slot. WebSocket processes read the stream (``notifications.seat_fanout``); a
client that reconnects with its last ``seq`` is replayed from it while it is not trimmed.

Keys (``tk:{evt:<id>}:...``):

* ``seq``: the last sequence number of the event (never expires: sequence numbers only grow).
* ``changes``: the stream, trimmed to about ``STREAM_MAXLEN`` entries (minutes of a flash sale).
  Fields: ``seats`` (comma-joined seat ids) and ``status`` (``held``, ``sold``, ``available``).
* ``expiry``: seats announced ``held`` (zset, score = when their seat key runs out, ms). Any
  other status takes them out. ``SWEEP_LUA`` announces the seats whose hold ran out by TTL.

This module imports nothing from other project packages: ``shared.locks`` may inline
``SEAT_CHANGE_LUA`` into its hold and release scripts.
"""

from __future__ import annotations

from collections.abc import Iterable

import redis

# About five minutes at 200 changes/s; '~' lets Redis trim whole nodes (cheap).
STREAM_MAXLEN = 60_000


def prefix(event_id: int) -> str:
    return f"tk:{{evt:{event_id}}}"


def sequence_key(event_id: int) -> str:
    return f"{prefix(event_id)}:seq"


def stream_key(event_id: int) -> str:
    return f"{prefix(event_id)}:changes"


def expiry_key(event_id: int) -> str:
    return f"{prefix(event_id)}:expiry"


def event_of_stream(key: str | bytes) -> int:
    if isinstance(key, bytes):
        key = key.decode()
    return int(key[len("tk:{evt:") : key.index("}")])


# seat_change(prefix, seats_csv, status) -> seq. ``prefix`` is 'tk:{evt:<id>}'; the keys it
# touches are that prefix plus :seq, :changes, :expiry and :seat:<id> (same slot).
SEAT_CHANGE_LUA = f"""
local function seat_change(prefix, seats_csv, status)
  local seq = redis.call('INCR', prefix .. ':seq')
  redis.call('XADD', prefix .. ':changes', 'MAXLEN', '~', {STREAM_MAXLEN}, seq .. '-0',
             'seats', seats_csv, 'status', status)
  local expiry = prefix .. ':expiry'
  if status == 'held' then
    local t = redis.call('TIME')
    local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
    local longest = 0
    for seat in string.gmatch(seats_csv, '[^,]+') do
      -- No seat key (-2): released already, and the release announces it; none is indexed.
      local ttl = redis.call('PTTL', prefix .. ':seat:' .. seat)
      if ttl > 0 then
        redis.call('ZADD', expiry, now + ttl, seat)
        longest = math.max(longest, ttl)
      end
    end
    -- An event nobody watches is never swept: the index goes with its last hold.
    if longest > 0 and redis.call('PTTL', expiry) < longest + 60000 then
      redis.call('PEXPIRE', expiry, longest + 60000)
    end
  else
    local seats = {{}}
    for seat in string.gmatch(seats_csv, '[^,]+') do seats[#seats + 1] = seat end
    for i = 1, #seats, 5000 do
      redis.call('ZREM', expiry, unpack(seats, i, math.min(i + 4999, #seats)))
    end
  end
  return seq
end
"""

# KEYS: seq, changes, expiry (declared for cluster routing)  ARGV: prefix, seats csv, status
_PUBLISH = SEAT_CHANGE_LUA + "return seat_change(ARGV[1], ARGV[2], ARGV[3])\n"

# KEYS: seq, changes, expiry, sold  ARGV: prefix, at most this many seats
# Announces the seats whose hold ran out: due in ``expiry``, no seat key left, not sold. A
# seat key that is still there (a lease extended by the booking worker, or a new hold) is
# rescheduled. Atomic, so two WebSocket processes sweeping at once announce a seat once.
SWEEP_LUA = (
    SEAT_CHANGE_LUA
    + """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local due = redis.call('ZRANGEBYSCORE', KEYS[3], '-inf', now, 'LIMIT', 0, tonumber(ARGV[2]))
local freed = {}
for _, seat in ipairs(due) do
  local ttl = redis.call('PTTL', ARGV[1] .. ':seat:' .. seat)
  if ttl > 0 then
    redis.call('ZADD', KEYS[3], now + ttl, seat)
  else
    redis.call('ZREM', KEYS[3], seat)
    if ttl == -2 and redis.call('SISMEMBER', KEYS[4], seat) == 0 then freed[#freed + 1] = seat end
  end
end
if #freed == 0 then return 0 end
return seat_change(ARGV[1], table.concat(freed, ','), 'available')
"""
)

SWEEP_BATCH = 5000


def publish_keys(event_id: int) -> list[str]:
    return [sequence_key(event_id), stream_key(event_id), expiry_key(event_id)]


def sweep_keys(event_id: int) -> list[str]:
    return [*publish_keys(event_id), f"{prefix(event_id)}:sold"]


def seats_csv(seat_ids: Iterable[int | str]) -> str:
    return ",".join(str(int(s)) for s in seat_ids)


class SeatChangeLog:
    """The seat-change scripts bound to one (sync) Redis client: the seat-lock Redis."""

    def __init__(self, client: redis.Redis):
        self.redis = client
        self._publish = client.register_script(_PUBLISH)
        self._sweep = client.register_script(SWEEP_LUA)

    def append(self, event_id: int, seat_ids: Iterable[int | str], status: str) -> int:
        """Log one change, one round trip; returns its sequence number."""
        csv = seats_csv(seat_ids)
        return int(self._publish(keys=publish_keys(event_id), args=[prefix(event_id), csv, status]))

    def sweep(self, event_id: int) -> int:
        """Announce holds that ran out; returns the change's sequence number (0: none due)."""
        args = [prefix(event_id), SWEEP_BATCH]
        return int(self._sweep(keys=sweep_keys(event_id), args=args))

    def current(self, event_id: int) -> int:
        return int(self.redis.get(sequence_key(event_id)) or 0)
