"""The hold endpoint's shortcuts give exactly what the serializers would."""

from datetime import UTC, datetime

import pytest

from ticketing.api.serializers import (
    MAX_SEATS_IN_REQUEST,
    HoldRequestSerializer,
    HoldSerializer,
)
from ticketing.services.holds import CreatedHold

BODIES = [
    {"seats": [1]},
    {"seats": [3, 2, 1]},
    {"seats": list(range(1, MAX_SEATS_IN_REQUEST + 1))},
    {"seats": list(range(1, MAX_SEATS_IN_REQUEST + 2))},
    {"seats": []},
    {"seats": [0]},
    {"seats": [-4]},
    {"seats": ["7"]},
    {"seats": [7.0]},
    {"seats": [True]},
    {"seats": [[1]]},
    {"seats": None},
    {"seats": "1,2"},
    {"quantity": 2},
    {"quantity": 0},
    {"quantity": MAX_SEATS_IN_REQUEST + 1},
    {"quantity": "2"},
    {"quantity": False},
    {"seats": [1], "quantity": 1},
    {"best_available": {"quantity": 2}},
    {},
    [],
    "seats",
    None,
]


@pytest.mark.parametrize("body", BODIES, ids=repr)
def test_the_everyday_parse_accepts_only_what_the_serializer_accepts(body):
    fast = HoldRequestSerializer.parse_everyday(body)
    if fast is None:
        return  # the view falls back to the serializer for this body
    serializer = HoldRequestSerializer(data=body)
    assert serializer.is_valid(), serializer.errors
    assert fast == dict(serializer.validated_data)


def test_the_everyday_parse_takes_the_common_bodies():
    assert HoldRequestSerializer.parse_everyday({"seats": [5, 6]}) == {"seats": [5, 6]}
    assert HoldRequestSerializer.parse_everyday({"quantity": 3}) == {"quantity": 3}


@pytest.mark.parametrize("seats", [[11, 12], []])
def test_the_hold_answer_is_the_serializers(seats):
    hold = CreatedHold(
        id="42-abc",
        event_id=42,
        seats=seats,
        quantity=len(seats) or 3,
        expires_at=datetime(2026, 11, 28, 6, 30, 1, 250000, tzinfo=UTC),
    )
    assert HoldSerializer.represent(hold) == HoldSerializer(hold).data
