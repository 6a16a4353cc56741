"""The per-event seat-change log (shared/seat_changes.py) on the real seat-lock Redis."""

import time

import pytest

from shared.locks import seat_key, seat_locks, sold_key
from shared.realtime import current_sequence, publish_seat_changes, seat_change_log
from shared.seat_changes import expiry_key, stream_key

EVENT = 9_000_001


@pytest.fixture
def redis():
    return seat_locks().redis


def entries(redis):
    return [
        (i.decode(), {k.decode(): v.decode() for k, v in f.items()})
        for i, f in redis.xrange(stream_key(EVENT))
    ]


def test_each_change_gets_the_next_sequence_number_as_its_stream_id(redis):
    publish_seat_changes(EVENT, [3, 4], "held")
    publish_seat_changes(EVENT, [3], "available")

    assert current_sequence(EVENT) == 2
    assert entries(redis) == [
        ("1-0", {"seats": "3,4", "status": "held"}),
        ("2-0", {"seats": "3", "status": "available"}),
    ]


def test_held_seats_are_indexed_by_expiry_and_any_other_status_unindexes_them(redis):
    redis.set(seat_key(EVENT, 1), "h1", px=5_000)
    redis.set(seat_key(EVENT, 2), "h1", px=5_000)
    before = time.time() * 1000

    publish_seat_changes(EVENT, [1, 2, 3], "held")  # seat 3 has no key: nothing to expire

    index = dict(redis.zrange(expiry_key(EVENT), 0, -1, withscores=True))
    assert set(index) == {b"1", b"2"}
    assert all(before + 4_000 < score <= before + 5_100 for score in index.values())
    publish_seat_changes(EVENT, [1], "sold")
    assert redis.zrange(expiry_key(EVENT), 0, -1) == [b"2"]


def test_the_sweep_announces_expired_seats_once_and_reschedules_live_ones(redis):
    redis.sadd(sold_key(EVENT), "-", "4")
    for seat in (1, 2, 3, 4):
        redis.set(seat_key(EVENT, seat), "h1", px=60_000)
    publish_seat_changes(EVENT, [1, 2, 3, 4], "held")
    # Seats 1 and 4 ran out (4 was sold meanwhile); 2's lease was extended; 3 is still held.
    redis.delete(seat_key(EVENT, 1), seat_key(EVENT, 4))
    redis.zadd(expiry_key(EVENT), {"1": 0, "2": 0, "4": 0})
    log = seat_change_log()

    seq = log.sweep(EVENT)

    assert seq == 2
    assert entries(redis)[-1] == ("2-0", {"seats": "1", "status": "available"})
    assert log.sweep(EVENT) == 0, "a second sweep (another ws process) announces nothing"
    index = dict(redis.zrange(expiry_key(EVENT), 0, -1, withscores=True))
    assert set(index) == {b"2", b"3"}
    assert index[b"2"] > time.time() * 1000 + 50_000
