"""Two web and two booking-worker processes on the Redis Cluster, sharing one start-up.

The race: 300 distinct buyers race for 20 seats through both web processes; exactly one wins
each seat and every accepted registration is confirmed.

The failover drill: while the same processes sell an event, the master that owns the event's
slot is killed (SIGKILL, as a lost machine). Its replica takes over after the
cluster-node-timeout; meanwhile holds on that slot are refused fast with a JSON 503 and
Retry-After, never a 500 or a hang. Afterwards each web process tops the event's sold set up
from PostgreSQL (``ticketing.services.failover``) and the sale goes on. The unique index keeps
the result at zero seats sold twice, and no accepted registration is lost. ``make drill`` runs
it and prints its figures (also written to test-artifacts/drill.txt).
"""

import asyncio
import os
import random
import signal
import subprocess
import time

import pytest
import redis
from redis.cluster import RedisCluster

from registration_worker.models import Ticket
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
from tests.conftest import ROOT, create_seated_event, seat_ids

pytestmark = pytest.mark.django_db(transaction=True)

RACE_BUYERS = 300

DRILL_BUYERS = 24  # concurrent buyer loops, spread over the web processes
SELL_BEFORE_KILL_S = 2.0
SELL_AFTER_RECOVERY_S = 2.0
GIVE_UP_AFTER_KILL_S = 30.0
SLOW_S = 5.0  # "never a hang": no hold may take longer
PAUSE_S = 0.1  # between a buyer's attempts: the seats must last past the failover


def slot_master(cluster: RedisCluster, event_id: int) -> tuple[str, int]:
    cluster.nodes_manager.initialize()
    node = cluster.nodes_manager.get_node_from_slot(cluster.keyslot(sold_key(event_id)))
    return node.host, node.port


async def sell(webs, event_id, buyers, seats, kill) -> tuple[list[dict], float]:
    """Buyers loop over the free seats until sales ran SELL_AFTER_RECOVERY_S after the
    master was killed and replaced (or the seats ran out); returns the attempts and when
    the master was killed."""
    rng = random.Random(16)
    free = set(seats)
    attempts: list[dict] = []
    state = {"killed_at": None, "recovered_at": None}
    clients = [client_for(webs[i % len(webs)], c) for i, c in enumerate(buyers)]

    def done() -> bool:
        if not free:
            return True
        recovered = state["recovered_at"]
        if recovered is not None and time.monotonic() > recovered + SELL_AFTER_RECOVERY_S:
            return True
        killed = state["killed_at"]
        return killed is not None and time.monotonic() > killed + GIVE_UP_AFTER_KILL_S

    async def buyer(client):
        while not done():
            seat = rng.choice(sorted(free))
            started = time.monotonic()
            result = await buy(client, event_id, [seat])
            result["started"] = started
            attempts.append(result)
            if result["hold"] in (201, 409):
                free.discard(seat)
            killed = state["killed_at"]
            if result["hold"] == 201 and killed is not None and started > killed:
                state["recovered_at"] = state["recovered_at"] or time.monotonic()
            await asyncio.sleep(PAUSE_S)

    async def killer():
        await asyncio.sleep(SELL_BEFORE_KILL_S)
        state["killed_at"] = time.monotonic()
        kill()

    try:
        await asyncio.gather(killer(), *(buyer(c) for c in clients))
    finally:
        await asyncio.gather(*(c.aclose() for c in clients))
    return attempts, state["killed_at"]


def test_failover_drill_a_master_killed_mid_sale_sells_nothing_twice_and_loses_nothing(
    cluster_stack, organizer, artifacts_dir
):
    # given a queued event of 900 seats on sale through two web and two worker processes
    event = create_seated_event(
        organizer, rows=30, seats_per_row=30, registration_mode="queued", max_seats_per_buyer=900
    )
    seats = seat_ids(event)
    buyers = make_buyers(DRILL_BUYERS)
    cluster = redis_cluster_client(cluster_stack.nodes)
    host, port = slot_master(cluster, event.pk)
    pid = int(redis.Redis(host=host, port=port).info("server")["process_id"])

    # when the master owning the event's slot is killed two seconds into the sale
    try:
        attempts, killed_at = asyncio.run(
            sell(cluster_stack.webs, event.pk, buyers, seats, lambda: os.kill(pid, signal.SIGKILL))
        )
    finally:
        restart = subprocess.run(
            [str(ROOT / "infrastructure/redis_cluster.sh"), "start"],
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert restart.returncode == 0, restart.stdout + restart.stderr

    # then its replica took the slot over
    assert slot_master(cluster, event.pk) != (host, port)
    # and no hold answered 500 or hung; the refused ones were JSON 503s with Retry-After
    assert {a["hold"] for a in attempts} <= {201, 409, 503}, [
        a for a in attempts if a["hold"] not in (201, 409, 503)
    ]
    assert max(a["hold_s"] for a in attempts) < SLOW_S
    refused = [a for a in attempts if a["hold"] == 503]
    assert refused, "the drill never hit the outage"
    for a in refused:
        assert a["hold_body"]["error"]["code"] == "dependency_unavailable", a
        assert a["retry_after"], a
    # and sales went on after the switch
    after = [a for a in attempts if a["started"] > killed_at and a["hold"] == 201]
    assert after, "no hold succeeded after the failover"
    outage_s = min(a["hold_at"] for a in after) - killed_at
    # and every web process that sold again topped the sold set up from PostgreSQL
    for i in range(len(cluster_stack.webs)):
        log = (artifacts_dir / f"cluster-web-{i}.log").read_text()
        assert f"event {event.pk}: slot moved from {host}:{port}" in log
    # and every accepted registration reached a final state; no seat was sold twice
    accepted = [a for a in attempts if a.get("registration") == 202]
    bookings = wait_for_final_bookings(event.pk)
    lost = registrations_lost(accepted, bookings)
    sold_twice = seats_sold_twice(event.pk)
    live = set(
        Ticket.objects.filter(event_id=event.pk)
        .exclude(status="cancelled")
        .values_list("seat_id", flat=True)
    )
    in_redis = {int(s) for s in cluster.smembers(sold_key(event.pk)) if s != SENTINEL.encode()}
    figures = (
        f"failover drill: master {host}:{port} (pid {pid}) killed mid-sale\n"
        f"  seconds without service on the slot: {outage_s:.2f}\n"
        f"  holds refused (503): {len(refused)} of {len(attempts)} attempts"
        f" (slowest hold {max(a['hold_s'] for a in attempts):.2f} s)\n"
        f"  holds won after the failover: {len(after)}; seats sold: {len(live)}\n"
        f"  seats sold twice: {sold_twice}\n"
        f"  registrations lost: {len(lost)} of {len(accepted)} accepted\n"
    )
    (artifacts_dir / "drill.txt").write_text(figures)
    print("\n" + figures)
    assert lost == []
    assert sold_twice == 0
    assert live <= in_redis, "the sold set lacks seats PostgreSQL sold"


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
    buyers = make_buyers(RACE_BUYERS)
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
        assert b"booked a batch" in worker.log_text()
