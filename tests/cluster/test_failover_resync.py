"""After a failover the promoted replica may lack the dead master's last writes: the sold set is
topped up from PostgreSQL before the event's next hold (ticketing/services/failover.py).

The failover itself is the drill's (test_cluster_sale.py); here the process is told that the
event's slot used to live on another node, which is what it remembers after a real one.
"""

import pytest

from registration_worker.models import Booking, Ticket
from shared import locks as locks_module
from shared.enums import BookingSource, BookingStatus
from shared.exceptions import SeatsUnavailable
from shared.locks import SENTINEL, seat_locks, sold_key
from tests.conftest import create_seated_event, seat_ids
from ticketing.services import failover
from ticketing.services.event_rules import get_event_rules
from ticketing.services.holds import HoldResult, _recheck_after_resync, create_hold

pytestmark = pytest.mark.django_db


@pytest.fixture
def on_the_cluster(redis_cluster, settings, monkeypatch):
    """This process's seat locks on the Redis Cluster."""
    settings.REDIS_CLUSTER_NODES = redis_cluster
    monkeypatch.setattr(locks_module, "_default", None)
    monkeypatch.setattr(failover, "_owners", {})
    yield seat_locks()


def sell_in_postgresql_only(event, buyer, seat_id):
    """A ticket PostgreSQL committed whose move to the sold set the new master never got."""
    category = event.price_categories.first()
    booking = Booking.objects.create(
        buyer=buyer,
        event=event,
        status=BookingStatus.CONFIRMED,
        source=BookingSource.SIMPLE,
        idempotency_key=f"lost-{seat_id}",
        request_fingerprint="lost",
        hold_id=f"lost-{seat_id}",
        total=category.price,
        currency=category.currency,
    )
    Ticket.objects.create(
        booking=booking,
        event=event,
        seat_id=seat_id,
        price_category=category,
        price=category.price,
        currency=category.currency,
        code=f"lost-{seat_id}",
    )


def sold_in_redis(locks, event_id) -> set[int]:
    return {int(s) for s in locks.redis.smembers(sold_key(event_id)) if s != SENTINEL.encode()}


def test_a_moved_slot_gets_the_sold_set_topped_up_before_the_next_hold(
    on_the_cluster, organizer, make_user
):
    locks = on_the_cluster
    event = create_seated_event(organizer, rows=1, seats_per_row=4)
    first, second, *_ = seat_ids(event)
    buyer = make_user()
    create_hold(
        user_id=buyer.pk, event_id=event.pk, seat_ids=[second]
    )  # the sold set exists; owner recorded
    # given a sale the promoted replica lost, and a slot this process saw on another node
    sell_in_postgresql_only(event, make_user(), first)
    assert first not in sold_in_redis(locks, event.pk)
    failover._owners[event.pk] = "127.0.0.1:1"
    # when a buyer holds that seat, then it is refused as taken: the set was topped up first
    with pytest.raises(SeatsUnavailable):
        create_hold(user_id=make_user().pk, event_id=event.pk, seat_ids=[first])
    assert first in sold_in_redis(locks, event.pk)
    assert failover._owners[event.pk] == locks.slot_owner(event.pk)
    # and a slot that did not move costs no resync
    assert failover.resync_after_failover(event.pk) is False


def test_a_hold_won_before_the_top_up_is_given_back_if_postgresql_sold_the_seat(
    on_the_cluster, organizer, make_user
):
    locks = on_the_cluster
    event = create_seated_event(organizer, rows=1, seats_per_row=4)
    first, second, *_ = seat_ids(event)
    rules = get_event_rules(event.pk)
    # given a hold the new master granted on a seat PostgreSQL had sold, and one it had not
    sold_hold = create_hold(user_id=make_user().pk, event_id=event.pk, seat_ids=[first])
    free_hold = create_hold(user_id=make_user().pk, event_id=event.pk, seat_ids=[second])
    sell_in_postgresql_only(event, make_user(), first)
    locks.add_sold(event.pk, [first])  # the top-up that followed
    # when the holds are checked again, then the first is released and the second kept
    taken = _recheck_after_resync(rules, HoldResult("ok", hold_id=sold_hold.id), [first])
    assert taken.status == "taken" and taken.seats == (str(first),)
    assert locks.get_hold(sold_hold.id) is None
    kept = HoldResult("ok", hold_id=free_hold.id)
    assert _recheck_after_resync(rules, kept, [second]) is kept
    assert locks.get_hold(free_hold.id) is not None
