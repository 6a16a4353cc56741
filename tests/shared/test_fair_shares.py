"""Fair shares in the hold scripts: a per-buyer limit and a cool-down, against the real Redis.

Each test is an attack a hoarding buyer tried before the limit existed.
"""

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import redis
from django.conf import settings

from shared.locks import SeatLocks

EVENT = 43
MINUTE = 60_000


@pytest.fixture
def locks():
    locks = SeatLocks(redis.Redis.from_url(settings.REDIS_URL))
    locks.load_seats(EVENT, range(1, 41))
    locks.rebuild_sold(EVENT, [])
    locks.rebuild_buyers(EVENT, {})
    locks.rebuild_ga_sold(EVENT, 0)
    return locks


def hold(locks, seats, owner="A", limit=10, ttl_ms=MINUTE):
    return locks.hold_seats(EVENT, list(seats), owner, ttl_ms, limit=limit)


def test_hoarding_loop_is_stopped_by_the_limit_and_the_cooldown(locks):
    # given buyer A holds 10 seats, the limit
    first = hold(locks, range(1, 11))
    assert first.ok
    # when A asks for 10 more, then they are refused and told what they hold
    refused = hold(locks, range(11, 21))
    assert (refused.status, refused.held, refused.booked) == ("limit", 10, 0)
    # when A releases and at once re-holds the same seats, the cool-down refuses them
    assert locks.release(locks.get_hold(first.hold_id), owner="A", cooldown_ms=MINUTE)
    again = hold(locks, range(1, 11))
    assert again.status == "cooldown"
    assert again.seats == tuple(str(s) for s in range(1, 11))
    assert 55_000 < again.retry_ms <= MINUTE
    # while another buyer may take them, and A may hold other seats (the quota is free again)
    assert hold(locks, range(1, 11), owner="B").ok
    assert hold(locks, range(11, 21)).ok


def test_cooldown_ends(locks):
    first = hold(locks, [1, 2])
    locks.release(locks.get_hold(first.hold_id), owner="A", cooldown_ms=200)
    assert hold(locks, [2]).status == "cooldown"
    time.sleep(0.3)
    assert hold(locks, [1, 2]).ok


def test_limit_counts_confirmed_bookings(locks):
    # given A bought 6 seats
    bought = hold(locks, range(1, 7))
    assert locks.confirm(locks.get_hold(bought.hold_id)) == "ok"
    # then only 4 more fit under a limit of 10
    refused = hold(locks, range(7, 12))
    assert (refused.status, refused.held, refused.booked) == ("limit", 0, 6)
    assert hold(locks, range(7, 11)).ok
    assert locks.buyer_usage(EVENT, "A") == (4, 6)


def test_confirm_again_after_a_redelivery_counts_once(locks):
    bought = hold(locks, range(1, 4))
    booking_hold = locks.get_hold(bought.hold_id)
    assert locks.confirm(booking_hold) == "ok"
    assert locks.confirm(booking_hold, force=True) == "ok"
    assert locks.buyer_usage(EVENT, "A") == (0, 3)


def test_cancelled_booking_frees_the_quota(locks):
    bought = hold(locks, range(1, 11))
    locks.confirm(locks.get_hold(bought.hold_id))
    assert hold(locks, [11]).status == "limit"
    locks.unsell(EVENT, list(range(1, 11)), owner="A", hold_id=bought.hold_id)
    assert hold(locks, [11]).ok


def test_one_buyer_firing_30_parallel_holds_gets_exactly_the_limit(locks):
    start = threading.Barrier(30)

    def one(seat):
        start.wait()
        return hold(locks, [seat], limit=5).status

    with ThreadPoolExecutor(max_workers=30) as pool:
        statuses = list(pool.map(one, range(1, 31)))
    assert statuses.count("ok") == 5
    assert statuses.count("limit") == 25
    assert locks.buyer_usage(EVENT, "A") == (5, 0)


def test_expired_holds_free_the_buyers_quota(locks):
    assert hold(locks, range(1, 11), ttl_ms=200).ok
    assert hold(locks, [11]).status == "limit"
    time.sleep(0.3)
    assert hold(locks, range(11, 21)).ok


def test_a_lease_extended_for_booking_keeps_counting(locks):
    # the worker extends a short lease while it books; the seats must not leave the count
    held = hold(locks, range(1, 11), ttl_ms=200)
    assert locks.check(locks.get_hold(held.hold_id), keep_ms=MINUTE) == "ok"
    time.sleep(0.3)
    assert hold(locks, [11]).status == "limit"


def test_lost_booked_counts_ask_for_a_rebuild(locks):
    bought = hold(locks, range(1, 9))
    locks.confirm(locks.get_hold(bought.hold_id))
    locks.redis.flushdb()
    locks.load_seats(EVENT, range(1, 41))
    locks.rebuild_sold(EVENT, range(1, 9))
    # the booked counts are gone: the script asks for them instead of guessing zero
    assert hold(locks, [9, 10, 11]).status == "rebuild_buyers"
    assert locks.rebuild_buyers(EVENT, {"A": {bought.hold_id: 8}}) is True
    assert locks.rebuild_buyers(EVENT, {}) is False  # only when missing
    assert hold(locks, [9, 10, 11]).status == "limit"
    assert hold(locks, [9, 10]).ok


def test_general_admission_limit_and_cooldown(locks):
    def ga(quantity, owner="A"):
        return locks.hold_quantity(EVENT, quantity, 100, owner, MINUTE, limit=5)

    first = ga(5)
    assert first.ok
    assert (ga(1).status, ga(1).held) == ("limit", 5)
    # releasing and re-holding at once: the released tickets still count while cooling down
    assert locks.release(locks.get_hold(first.hold_id), owner="A", cooldown_ms=MINUTE)
    again = ga(5)
    assert again.status == "cooldown"
    assert 55_000 < again.retry_ms <= MINUTE
    assert ga(5, owner="B").ok
