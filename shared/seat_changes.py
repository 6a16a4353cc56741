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

This module imports nothing from other project packages: ``shared.locks`` inlines
``SEAT_CHANGE_LUA`` into its hold, release and confirm scripts, so a seat's change of status
and its announcement are one atomic script (nothing to lose between them on a failover).
"""

from __future__ import annotations

import time
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


def seat_key(event_id: int, seat_id: int | str) -> str:
    """The seat's lock (owned by ``shared.locks``; here because the log reads its TTL)."""
    return f"{prefix(event_id)}:seat:{seat_id}"


def event_of_stream(key: str | bytes) -> int:
    if isinstance(key, bytes):
        key = key.decode()
    return int(key[len("tk:{evt:") : key.index("}")])


# seat_change(seq, changes, expiry, seats, seat_keys, status) -> seq. The first three are the
# keys of ``publish_keys``; ``seats`` a table of seat ids and ``seat_keys`` their seat keys
# (read for ``held`` only). Every key comes from the calling script's KEYS, so a script
# declares everything it touches (Redis Cluster routes by KEYS; all share the event's slot).
SEAT_CHANGE_LUA = f"""
local function seat_change(k_seq, k_changes, k_expiry, seats, seat_keys, status)
  local seq = redis.call('INCR', k_seq)
  redis.call('XADD', k_changes, 'MAXLEN', '~', {STREAM_MAXLEN}, seq .. '-0',
             'seats', table.concat(seats, ','), 'status', status)
  if status == 'held' then
    local t = redis.call('TIME')
    local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
    local longest = 0
    for i, seat in ipairs(seats) do
      -- No seat key (-2): released already, and the release announces it; none is indexed.
      local ttl = redis.call('PTTL', seat_keys[i])
      if ttl > 0 then
        redis.call('ZADD', k_expiry, now + ttl, seat)
        longest = math.max(longest, ttl)
      end
    end
    -- An event nobody watches is never swept: the index goes with its last hold.
    if longest > 0 and redis.call('PTTL', k_expiry) < longest + 60000 then
      redis.call('PEXPIRE', k_expiry, longest + 60000)
    end
  else
    for i = 1, #seats, 5000 do
      redis.call('ZREM', k_expiry, unpack(seats, i, math.min(i + 4999, #seats)))
    end
  end
  return seq
end
"""

# KEYS: seq, changes, expiry, seat keys...  ARGV: status, seat ids (same order as the keys)
_PUBLISH = (
    SEAT_CHANGE_LUA
    + """
local seats, seat_keys = {}, {}
for i = 4, #KEYS do
  seats[#seats + 1] = ARGV[i - 2]
  seat_keys[#seat_keys + 1] = KEYS[i]
end
return seat_change(KEYS[1], KEYS[2], KEYS[3], seats, seat_keys, ARGV[1])
"""
)

# KEYS: seq, changes, expiry, sold, seat keys...  ARGV: seat ids (same order as the keys)
# Announces the seats whose hold ran out among the candidates the caller read from ``expiry``
# (``due_seats``): still due, no seat key left, not sold. A seat key that is still there (a
# lease extended by the booking worker, or a new hold) is rescheduled. Atomic, so two
# WebSocket processes sweeping at once announce a seat once.
SWEEP_LUA = (
    SEAT_CHANGE_LUA
    + """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local freed = {}
for i = 5, #KEYS do
  local seat = ARGV[i - 4]
  local due = redis.call('ZSCORE', KEYS[3], seat)
  if due and tonumber(due) <= now then
    local ttl = redis.call('PTTL', KEYS[i])
    if ttl > 0 then
      redis.call('ZADD', KEYS[3], now + ttl, seat)
    else
      redis.call('ZREM', KEYS[3], seat)
      if ttl == -2 and redis.call('SISMEMBER', KEYS[4], seat) == 0 then
        freed[#freed + 1] = seat
      end
    end
  end
end
if #freed == 0 then return 0 end
return seat_change(KEYS[1], KEYS[2], KEYS[3], freed, {}, 'available')
"""
)

SWEEP_BATCH = 5000


def publish_keys(event_id: int) -> list[str]:
    return [sequence_key(event_id), stream_key(event_id), expiry_key(event_id)]


def due_seats_query(event_id: int) -> tuple[str, float, float]:
    """ZRANGEBYSCORE arguments (key, min, max) of the seats whose announced hold is due."""
    return expiry_key(event_id), float("-inf"), time.time() * 1000


def sweep_call(event_id: int, due: Iterable[int | str | bytes]) -> tuple[list[str], list[str]]:
    """KEYS and ARGV of ``SWEEP_LUA`` for the candidates ``due`` (read with ZRANGEBYSCORE)."""
    seats = [s.decode() if isinstance(s, bytes) else str(s) for s in due]
    keys = [*publish_keys(event_id), f"{prefix(event_id)}:sold"]
    return keys + [seat_key(event_id, s) for s in seats], seats


class SeatChangeLog:
    """The seat-change scripts bound to one (sync) Redis client: the seat-lock Redis."""

    def __init__(self, client: redis.Redis):
        self.redis = client
        self._publish = client.register_script(_PUBLISH)
        self._sweep = client.register_script(SWEEP_LUA)

    def append(self, event_id: int, seat_ids: Iterable[int | str], status: str) -> int:
        """Log one change, one round trip; returns its sequence number."""
        seats = [str(int(s)) for s in seat_ids]
        keys = publish_keys(event_id) + [seat_key(event_id, s) for s in seats]
        return int(self._publish(keys=keys, args=[status, *seats]))

    def sweep(self, event_id: int) -> int:
        """Announce holds that ran out; returns the change's sequence number (0: none due)."""
        key, low, high = due_seats_query(event_id)
        due = self.redis.zrangebyscore(key, low, high, start=0, num=SWEEP_BATCH)
        if not due:
            return 0
        keys, args = sweep_call(event_id, due)
        return int(self._sweep(keys=keys, args=args))

    def current(self, event_id: int) -> int:
        return int(self.redis.get(sequence_key(event_id)) or 0)
