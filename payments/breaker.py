"""A circuit breaker in front of the payment provider, shared by every thread and process.

After ``PAYMENT_BREAKER_FAIL_MAX`` calls in a row without a definite answer (timeouts, refused
connections, 5xx: ``Outcome.UNKNOWN``) the circuit opens: for ``PAYMENT_BREAKER_RESET_SECONDS``
no call goes to the bank, each answers ``UNKNOWN`` ("circuit open"), so the saga keeps the
bookings in ``pending_payment`` and retries later (the charge task's backoff, through RabbitMQ's
delayed delivery) instead of piling timeouts on a bank that is down. Then one trial call goes
through (half-open): a definite answer closes the circuit, another failure opens it again.

pybreaker (maintained, small) with its Redis storage: the state and the failure count live in
Redis, so the payment worker's threads, every other process and a restarted worker share one
circuit. Celery's rate limits were the other candidate, but they are per worker and blind to
failures: they slow every charge, not the ones a failing bank would waste. If Redis itself is
unreachable pybreaker falls back to a closed circuit (calls go to the bank as without it).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pybreaker
from django.conf import settings

from payments.providers.base import Outcome, PaymentProvider, ProviderResult
from shared import metrics
from shared.per_process import PerProcess
from shared.redis_clients import redis_client

log = logging.getLogger(__name__)

CIRCUIT_OPEN = "circuit open: the bank was not called"


class _Unanswered(Exception):
    """A provider call without a definite answer (counted as a failure by the breaker)."""

    def __init__(self, result: ProviderResult):
        super().__init__(result.detail)
        self.result = result


class _LogStateChanges(pybreaker.CircuitBreakerListener):
    def state_change(self, cb, old_state, new_state):
        log.warning(
            "payment provider circuit %s -> %s", old_state and old_state.name, new_state.name
        )
        metrics.PAYMENT_BREAKER_TRANSITIONS.labels(new_state.name).inc()


class _ConcurrentWhileClosed(pybreaker.CircuitBreaker):
    """pybreaker holds its lock through the whole call, so a process called the bank one
    charge at a time (200 paid bookings at 50 ms a charge took 20 s, whatever the payment
    worker's threads). While the circuit is closed calls run side by side: the failure count
    and the trip are Redis operations and ``open()`` takes the lock itself. Open and half-open
    keep pybreaker's lock, so one trial call at a time reaches a recovering bank."""

    def call(self, func, *args, **kwargs):
        state = self.state
        if state.name == pybreaker.STATE_CLOSED:
            return state.call(func, *args, **kwargs)
        return super().call(func, *args, **kwargs)


@dataclass(frozen=True)
class _Circuit:
    breaker: pybreaker.CircuitBreaker
    storage: pybreaker.CircuitRedisStorage


def _new_circuit() -> _Circuit:
    storage = pybreaker.CircuitRedisStorage(
        pybreaker.STATE_CLOSED, redis_client(settings.REDIS_URL), namespace="payments:provider"
    )
    breaker = _ConcurrentWhileClosed(
        fail_max=settings.PAYMENT_BREAKER_FAIL_MAX,
        reset_timeout=settings.PAYMENT_BREAKER_RESET_SECONDS,
        state_storage=storage,
        listeners=[_LogStateChanges()],
        name="payment provider",
        throw_new_error_on_trip=False,  # the call that trips it keeps its own (unknown) result
    )
    return _Circuit(breaker, storage)


_circuit = PerProcess(_new_circuit)


def provider_breaker() -> pybreaker.CircuitBreaker:
    return _circuit.get().breaker


def provider_circuit_state() -> str:
    """The circuit's state as stored in Redis: ``closed``, ``open`` or ``half-open``.

    Raises when Redis does not answer (pybreaker itself would then say ``closed``).
    """
    redis_client(settings.REDIS_URL).ping()
    return _circuit.get().storage.state


def provider_circuit_open() -> bool:
    """Whether calls are refused now (open, and its cool-down not over yet)."""
    circuit = _circuit.get()
    if circuit.storage.state != pybreaker.STATE_OPEN:
        return False
    opened_at = circuit.storage.opened_at
    cool_down = timedelta(seconds=circuit.breaker.reset_timeout)
    return opened_at is not None and datetime.now(UTC) < opened_at + cool_down


class GuardedProvider(PaymentProvider):
    """The configured provider, called through the breaker."""

    def __init__(self, inner: PaymentProvider):
        self.inner = inner
        self.name = inner.name

    def charge(self, amount, currency, token, idempotency_key) -> ProviderResult:
        return self._call(self.inner.charge, amount, currency, token, idempotency_key)

    def refund(self, charge_ref, amount, idempotency_key) -> ProviderResult:
        return self._call(self.inner.refund, charge_ref, amount, idempotency_key)

    def lookup(self, idempotency_key) -> ProviderResult:
        return self._call(self.inner.lookup, idempotency_key)

    @staticmethod
    def _call(method, *args) -> ProviderResult:
        def definite(*args):
            result = method(*args)
            if result.outcome == Outcome.UNKNOWN:
                raise _Unanswered(result)
            return result

        try:
            return provider_breaker().call(definite, *args)
        except _Unanswered as unanswered:
            return unanswered.result
        except pybreaker.CircuitBreakerError:
            return ProviderResult(Outcome.UNKNOWN, detail=CIRCUIT_OPEN)
