"""The payment provider's circuit breaker in the metrics (shared/metrics.py): its transitions
counted where pybreaker reports them, its state read from Redis for the periodic worker's
gauges (``payments.breaker.provider_circuit_state``). Against the real bank simulator."""

import uuid

import pytest
from django.conf import settings
from prometheus_client import REGISTRY

from payments.breaker import provider_circuit_state
from payments.providers.base import Outcome, get_provider
from tests.payments.conftest import wait_until

pytestmark = pytest.mark.django_db(transaction=True)


def transitions(state: str) -> float:
    value = REGISTRY.get_sample_value(
        "ticketing_payment_breaker_transitions_total", {"state": state}
    )
    return value or 0.0


def bank_answers(provider) -> bool:
    return provider.lookup(uuid.uuid4().hex).outcome == Outcome.NOT_FOUND


def test_the_circuit_opening_and_closing_is_counted_and_its_state_readable(bank):
    # given a closed circuit (an earlier test's open one closes at its first answered call)
    provider = get_provider()
    wait_until(lambda: bank_answers(provider), timeout=30, message="the bank to answer")
    assert provider_circuit_state() == "closed"
    opened, closed = transitions("open"), transitions("closed")

    # when the bank stops answering for as many calls as the breaker tolerates
    bank.stop()
    try:
        for _ in range(settings.PAYMENT_BREAKER_FAIL_MAX):
            assert provider.lookup(uuid.uuid4().hex).outcome == Outcome.UNKNOWN
        # then the circuit is open, once
        assert provider_circuit_state() == "open"
        assert transitions("open") == opened + 1
    finally:
        bank.start()

    # when the bank answers again after the cool-down, the trial call closes it
    wait_until(lambda: bank_answers(provider), timeout=30, message="a call let through")
    assert provider_circuit_state() == "closed"
    assert transitions("closed") == closed + 1
