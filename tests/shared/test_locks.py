"""The seat-lock scripts against the real Redis."""

import time

import pytest
import redis
from django.conf import settings

from shared.locks import Hold, SeatLocks, hold_key, seat_key, sold_key
from shared.seat_changes import expiry_key

EVENT = 42


@pytest.fixture
def locks():
    locks = SeatLocks(redis.Redis.from_url(settings.REDIS_URL))
    locks.load_seats(EVENT, range(1, 11))
    locks.rebuild_sold(EVENT, [])
    return locks


def hold_of(locks, hold_id):
    return locks.get_hold(hold_id)


def test_hold_is_all_or_nothing(locks):
    # given seat 3 is held by buyer A
    first = locks.hold_seats(EVENT, [3], "A", 60_000)
    assert first.ok
    # when buyer B asks for seats 1, 2 and 3
    second = locks.hold_seats(EVENT, [1, 2, 3], "B", 60_000)
    # then nothing is held for B and seat 3 is named
    assert second.status == "taken"
    assert second.seats == ("3",)
    assert locks.redis.get(seat_key(EVENT, 1)) is None
    assert locks.redis.get(seat_key(EVENT, 2)) is None


def test_hold_refuses_unknown_and_sold_seats(locks):
    assert locks.hold_seats(EVENT, [1, 99], "A", 60_000).seats == ("99",)
    locks.redis.sadd(sold_key(EVENT), "5")
    refused = locks.hold_seats(EVENT, [4, 5], "A", 60_000)
    assert (refused.status, refused.seats) == ("taken", ("5",))


def test_hold_record_names_owner_and_seats(locks):
    result = locks.hold_seats(EVENT, [1, 2], "A", 60_000)
    hold = locks.get_hold(result.hold_id)
    assert hold.owner == "A"
    assert hold.seat_ids == (1, 2)
    assert hold.expires_ms == result.expires_ms
    assert abs(hold.expires_ms / 1000 - time.time() - 60) < 5


def test_hold_expires_with_its_ttl(locks):
    result = locks.hold_seats(EVENT, [1], "A", 200)
    time.sleep(0.4)
    assert locks.get_hold(result.hold_id) is None
    assert locks.hold_seats(EVENT, [1], "B", 60_000).ok


def test_release_is_compare_and_delete(locks):
    result = locks.hold_seats(EVENT, [1, 2], "A", 60_000)
    hold = locks.get_hold(result.hold_id)
    # another owner cannot release it
    assert locks.release(hold, owner="B") is False
    assert locks.redis.get(seat_key(EVENT, 1)) == result.hold_id.encode()
    # a seat now carrying another hold id is not deleted by the owner's release
    locks.redis.set(seat_key(EVENT, 2), "someone-else")
    assert locks.release(hold, owner="A") is True
    assert locks.redis.get(seat_key(EVENT, 1)) is None
    assert locks.redis.get(seat_key(EVENT, 2)) == b"someone-else"


def test_confirm_moves_seats_to_sold(locks):
    result = locks.hold_seats(EVENT, [1, 2], "A", 60_000)
    hold = locks.get_hold(result.hold_id)
    assert locks.confirm(hold) == "ok"
    assert locks.redis.sismember(sold_key(EVENT), "1")
    assert locks.redis.sismember(sold_key(EVENT), "2")
    assert locks.get_hold(result.hold_id) is None
    assert locks.hold_seats(EVENT, [2], "B", 60_000).status == "taken"


def test_confirm_after_expiry_fails(locks):
    result = locks.hold_seats(EVENT, [1], "A", 150)
    hold = Hold(result.hold_id, EVENT, "A", (1,), 1, result.expires_ms)
    time.sleep(0.3)
    assert locks.confirm(hold) == "expired"
    assert not locks.redis.sismember(sold_key(EVENT), "1")


def test_confirm_fails_when_a_seat_was_taken_over(locks):
    result = locks.hold_seats(EVENT, [1, 2], "A", 60_000)
    hold = locks.get_hold(result.hold_id)
    locks.redis.set(seat_key(EVENT, 2), "other-hold")
    assert locks.confirm(hold) == "lost"


def test_check_extends_a_short_lease(locks):
    result = locks.hold_seats(EVENT, [1], "A", 1_000)
    hold = locks.get_hold(result.hold_id)
    assert locks.check(hold, keep_ms=30_000) == "ok"
    assert locks.redis.pttl(seat_key(EVENT, 1)) > 20_000


def test_missing_sold_set_asks_for_a_rebuild(locks):
    locks.redis.delete(sold_key(EVENT))
    assert locks.hold_seats(EVENT, [1], "A", 60_000).status == "rebuild_sold"
    assert locks.rebuild_sold(EVENT, [1]) is True
    assert locks.rebuild_sold(EVENT, [2]) is False  # only when missing
    assert locks.hold_seats(EVENT, [1], "A", 60_000).status == "taken"


def test_scripts_survive_a_script_flush(locks):
    locks.redis.script_flush()
    assert locks.hold_seats(EVENT, [7], "A", 60_000).ok


def test_general_admission_counter_is_all_or_nothing(locks):
    locks.rebuild_ga_sold(EVENT, 0)
    first = locks.hold_quantity(EVENT, 6, capacity=10, owner="A", ttl_ms=60_000)
    assert first.ok
    refused = locks.hold_quantity(EVENT, 5, capacity=10, owner="B", ttl_ms=60_000)
    assert (refused.status, refused.remaining) == ("sold_out", 4)
    assert locks.hold_quantity(EVENT, 4, capacity=10, owner="B", ttl_ms=60_000).ok
    # confirming A's hold moves 6 from held to sold
    assert locks.confirm(locks.get_hold(first.hold_id)) == "ok"
    assert locks.ga_counts(EVENT) == (6, 4)


def test_general_admission_hold_expiry_returns_tickets(locks):
    locks.rebuild_ga_sold(EVENT, 0)
    assert locks.hold_quantity(EVENT, 10, capacity=10, owner="A", ttl_ms=150).ok
    time.sleep(0.3)
    assert locks.hold_quantity(EVENT, 10, capacity=10, owner="B", ttl_ms=60_000).ok


def test_extend_gives_the_owner_more_time_once(locks):
    # given buyer A's short hold of seats 1 and 2
    result = locks.hold_seats(EVENT, [1, 2], "A", 2_000)
    hold = locks.get_hold(result.hold_id)
    # when another buyer asks to extend it, nothing changes
    assert locks.extend(hold, "B", 60_000) == ("not_owner", 0)
    # when A asks, the record, every seat key and A's ledger last 60 s longer
    status, expires_ms = locks.extend(hold, "A", 60_000)
    assert (status, expires_ms) == ("ok", result.expires_ms + 60_000)
    assert locks.get_hold(hold.hold_id).expires_ms == expires_ms
    assert locks.get_hold(hold.hold_id).extended
    assert locks.redis.pttl(seat_key(EVENT, 2)) > 55_000
    # (watchers hear of the seats when the extended hold ends, not at the first expiry)
    assert locks.redis.zscore(expiry_key(EVENT), "2") == expires_ms
    assert [h.hold_id for h in locks.live_holds(EVENT, "A")] == [hold.hold_id]
    # and a second extension is refused with the expiry unchanged
    assert locks.extend(hold, "A", 60_000) == ("already", expires_ms)
    time.sleep(2.2)  # the original TTL has passed: the seats are still A's
    assert locks.hold_seats(EVENT, [2], "B", 60_000).status == "taken"


def test_extend_refuses_a_hold_that_lost_a_seat(locks):
    result = locks.hold_seats(EVENT, [3, 4], "A", 60_000)
    hold = locks.get_hold(result.hold_id)
    locks.redis.delete(seat_key(EVENT, 4))  # as if its key expired or Redis lost it
    assert locks.extend(hold, "A", 60_000) == ("gone", 0)
    assert not locks.get_hold(hold.hold_id).extended


def test_extend_general_admission_moves_the_counted_expiry(locks):
    locks.rebuild_ga_sold(EVENT, 0)
    result = locks.hold_quantity(EVENT, 10, capacity=10, owner="A", ttl_ms=300)
    assert locks.extend(locks.get_hold(result.hold_id), "A", 60_000)[0] == "ok"
    time.sleep(0.5)
    # the held tickets still count against the capacity after the first TTL
    assert locks.hold_quantity(EVENT, 1, capacity=10, owner="B", ttl_ms=60_000).status == (
        "sold_out"
    )


def test_live_holds_lists_only_the_buyers_unexpired_holds(locks):
    mine = locks.hold_seats(EVENT, [5], "A", 60_000)
    short = locks.hold_seats(EVENT, [6], "A", 100)
    locks.hold_seats(EVENT, [7], "B", 60_000)
    booked = locks.hold_seats(EVENT, [8], "A", 60_000)
    locks.confirm(locks.get_hold(booked.hold_id))
    time.sleep(0.2)
    live = locks.live_holds(EVENT, "A")
    assert [(h.hold_id, h.seat_ids) for h in live] == [(mine.hold_id, (5,))]
    assert short.ok and locks.live_holds(EVENT, "nobody") == []


def _vanish(locks, hold):
    """The hold's record and seat locks gone (its lease ran out, or Redis lost them)."""
    locks.redis.delete(hold_key(EVENT, hold.hold_id))
    locks.redis.delete(*[seat_key(EVENT, s) for s in hold.seat_ids])


def test_check_takes_back_the_seats_of_a_vanished_hold_nobody_else_has(locks):
    # given an accepted registration's hold that vanished while its command waited
    result = locks.hold_seats(EVENT, [1, 2], "A", 60_000)
    hold = locks.get_hold(result.hold_id)
    _vanish(locks, hold)
    assert locks.get_hold(result.hold_id) is None
    # when the worker checks it, then its seats are the hold's again, for the worker's lease
    assert locks.check(hold, keep_ms=30_000) == "ok"
    assert locks.redis.get(seat_key(EVENT, 1)) == result.hold_id.encode()
    assert locks.redis.get(seat_key(EVENT, 2)) == result.hold_id.encode()
    again = locks.get_hold(result.hold_id)
    assert (again.owner, again.seat_ids) == ("A", (1, 2))
    assert 25_000 < locks.redis.pttl(seat_key(EVENT, 1)) <= 30_000
    # and another buyer cannot have them meanwhile
    assert locks.hold_seats(EVENT, [2], "B", 60_000).status == "taken"


@pytest.mark.parametrize("since", ["held by another", "sold"])
def test_check_does_not_take_back_seats_someone_else_has(locks, since):
    result = locks.hold_seats(EVENT, [1, 2], "A", 60_000)
    hold = locks.get_hold(result.hold_id)
    _vanish(locks, hold)
    if since == "held by another":
        assert locks.hold_seats(EVENT, [2], "B", 60_000).ok
    else:
        locks.redis.sadd(sold_key(EVENT), "2")
    assert locks.check(hold) == "expired"
    assert locks.redis.get(seat_key(EVENT, 1)) is None
    assert locks.get_hold(result.hold_id) is None


def test_check_asks_for_the_sold_set_before_taking_back_seats(locks):
    # given a vanished hold and the sold set lost with it (a flush): which seats are sold is
    # unknown, so nothing is taken back until it is rebuilt
    result = locks.hold_seats(EVENT, [1], "A", 60_000)
    hold = locks.get_hold(result.hold_id)
    _vanish(locks, hold)
    locks.redis.delete(sold_key(EVENT))
    assert locks.check(hold) == "rebuild_sold"
    assert locks.redis.get(seat_key(EVENT, 1)) is None
    # then, rebuilt from PostgreSQL's tickets, it decides
    locks.rebuild_sold(EVENT, [1])
    assert locks.check(hold) == "expired"
