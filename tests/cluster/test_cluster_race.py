"""Two web processes and two booking workers on the Redis Cluster: 300 buyers, 20 seats."""

import asyncio
import random

import pytest
from redis.cluster import RedisCluster

from shared.locks import SENTINEL, sold_key
from shared.redis_clients import redis_cluster_client
from tests.cluster.helpers import (
    buy,
    client_for,
    make_buyers,
    registrations_lost,
    seats_sold_twice,
    wait_for_final_bookings,
)
from tests.conftest import create_seated_event, seat_ids

pytestmark = pytest.mark.django_db(transaction=True)

BUYERS = 300


async def race(webs: list[str], event_id: int, buyers: list[dict], seats: list[int]) -> list:
    rng = random.Random(16)
    clients = [client_for(webs[i % len(webs)], cookies) for i, cookies in enumerate(buyers)]
    try:
        # Every buyer at once, alternating between the web processes.
        attempts = [buy(c, event_id, [rng.choice(seats)]) for c in clients]
        results = await asyncio.gather(*attempts)
    finally:
        await asyncio.gather(*(c.aclose() for c in clients))
    for i, result in enumerate(results):
        result["web"] = webs[i % len(webs)]
    return results


def test_300_buyers_race_for_20_seats_through_two_web_and_two_worker_processes(
    cluster_stack, organizer
):
    # given a queued event with 20 seats and 300 distinct logged-in buyers
    event = create_seated_event(organizer, rows=2, seats_per_row=10, registration_mode="queued")
    seats = seat_ids(event)
    buyers = make_buyers(BUYERS)
    # when they all race for one seat each through both web processes
    results = asyncio.run(race(cluster_stack.webs, event.pk, buyers, seats))
    # then every hold was won or refused as taken, and both web processes sold
    assert {r["hold"] for r in results} <= {201, 409}, [r for r in results if r["hold"] >= 500]
    winners = [r for r in results if r["hold"] == 201]
    assert {r["web"] for r in winners} == set(cluster_stack.webs)
    # and exactly one buyer won each seat, and every win was accepted for booking
    assert sorted(r["seats"][0] for r in winners) == sorted(seats)
    assert {r["registration"] for r in winners} == {202}
    # and every accepted registration became a confirmed booking: one ticket per seat
    bookings = wait_for_final_bookings(event.pk)
    assert registrations_lost(winners, bookings) == []
    assert len(bookings) == len(seats)
    assert {b.status for b in bookings} == {"confirmed"}
    assert seats_sold_twice(event.pk) == 0
    sold = sorted(t.seat_id for b in bookings for t in b.tickets.all())
    assert sold == sorted(seats)
    # and the booking workers (both of them) moved the seats to the sold set in the cluster
    cluster: RedisCluster = redis_cluster_client(cluster_stack.nodes)
    in_redis = {int(s) for s in cluster.smembers(sold_key(event.pk)) if s != SENTINEL.encode()}
    assert in_redis == set(seats)
    for worker in cluster_stack.workers:
        assert b"booked a batch" in worker.log_path.read_bytes()[worker.log_offset :]
