"""Holds, registrations and bookings are counted by outcome where the services decide it
(shared/metrics.py; this process exports its own values: no multiprocess directory here)."""

import uuid

import pytest
from prometheus_client import REGISTRY

from shared.exceptions import SeatsUnavailable
from tests.conftest import create_seated_event, seat_ids
from ticketing.services.holds import create_hold
from ticketing.services.registrations import register_hold

pytestmark = pytest.mark.django_db(transaction=True)

COUNTED = [
    ("ticketing_holds_total", {"outcome": "held"}),
    ("ticketing_holds_total", {"outcome": "seats_unavailable"}),
    ("ticketing_registrations_total", {"outcome": "confirmed"}),
    ("ticketing_registrations_total", {"outcome": "replayed"}),
    ("ticketing_bookings_total", {"flow": "simple", "outcome": "confirmed"}),
]


def counts() -> list[float]:
    return [REGISTRY.get_sample_value(name, labels) or 0.0 for name, labels in COUNTED]


def test_holds_and_a_simple_registration_are_counted_by_outcome(make_user, organizer):
    event = create_seated_event(organizer)  # the simple flow: booked in the request
    seats = seat_ids(event)[:2]
    buyer, other = make_user(), make_user()
    before = counts()

    # a hold, another buyer's attempt on the same seats, the registration and its replay
    hold = create_hold(user_id=buyer.pk, event_id=event.pk, seat_ids=seats)
    with pytest.raises(SeatsUnavailable):
        create_hold(user_id=other.pk, event_id=event.pk, seat_ids=seats)
    key = uuid.uuid4().hex
    register_hold(user_id=buyer.pk, hold_id=hold.id, idempotency_key=key)
    register_hold(user_id=buyer.pk, hold_id=hold.id, idempotency_key=key)

    assert [after - earlier for after, earlier in zip(counts(), before, strict=True)] == [
        1,  # held
        1,  # refused: seats_unavailable
        1,  # registration confirmed
        1,  # the same key again: replayed
        1,  # one booking, confirmed in the request
    ]
