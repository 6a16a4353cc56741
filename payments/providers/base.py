"""The payment-provider interface: charge, refund and look up, each idempotent by key.

Every call answers with an ``Outcome``. ``UNKNOWN`` means the provider may or may not have
acted (a timeout, a dropped connection, a 5xx): the caller must look the charge up by its
idempotency key before trying again, never charge blindly a second time.

A real provider plugs in as one more subclass named by ``PAYMENT_PROVIDER``:

* Stripe: ``charge`` is ``PaymentIntent.create(amount, currency, payment_method=token,
  confirm=True, idempotency_key=key)``; ``lookup`` searches PaymentIntents by a metadata field
  holding the key (Stripe's idempotency keys expire after 24 hours, so the key must also be
  stored on the provider's object); ``refund`` is ``Refund.create(payment_intent=ref,
  idempotency_key=key)``.
* Adyen: ``/payments`` with the ``Idempotency-Key`` header and ``reference`` = key; ``lookup``
  reads the result from the AUTHORISATION webhook stored by reference; ``refund`` is
  ``/payments/{pspReference}/refunds``.
"""

from __future__ import annotations

import enum
from abc import ABC, abstractmethod
from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings
from django.utils.module_loading import import_string


class Outcome(enum.StrEnum):
    APPROVED = "approved"
    DECLINED = "declined"
    UNKNOWN = "unknown"  # timeout or error: the provider may have acted
    NOT_FOUND = "not_found"  # lookup only: the provider never saw this key


@dataclass(frozen=True)
class ProviderResult:
    outcome: Outcome
    reference: str = ""  # the provider's id of the charge or refund
    detail: str = ""  # decline reason or error, for the saga log
    amount: Decimal | None = None


class PaymentProvider(ABC):
    name = "provider"

    @abstractmethod
    def charge(
        self, amount: Decimal, currency: str, token: str, idempotency_key: str
    ) -> ProviderResult:
        """Charge ``amount``; the same key always means the same (single) charge."""

    @abstractmethod
    def refund(self, charge_ref: str, amount: Decimal, idempotency_key: str) -> ProviderResult:
        """Give ``amount`` of a charge back; the same key refunds once."""

    @abstractmethod
    def lookup(self, idempotency_key: str) -> ProviderResult:
        """What became of the charge made with this key (``NOT_FOUND`` if none)."""


_provider: PaymentProvider | None = None


def get_provider() -> PaymentProvider:
    """The process-wide provider named by ``settings.PAYMENT_PROVIDER``, behind the circuit
    breaker (``payments/breaker.py``)."""
    global _provider
    if _provider is None:
        from payments.breaker import GuardedProvider

        _provider = GuardedProvider(import_string(settings.PAYMENT_PROVIDER)())
    return _provider
