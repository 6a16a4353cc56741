"""The bank simulator (``python -m bank_simulator``) over HTTP, as a PaymentProvider.

Amounts travel as integer minor units, idempotency keys in the ``Idempotency-Key`` header.
Anything but a definite answer (timeout, refused connection, 5xx, garbage) is ``UNKNOWN``.
"""

from __future__ import annotations

import logging
import threading
from decimal import Decimal

import requests
from django.conf import settings

from payments.commission import from_minor, to_minor
from payments.providers.base import Outcome, PaymentProvider, ProviderResult

log = logging.getLogger(__name__)

_FINAL = {"approved": Outcome.APPROVED, "declined": Outcome.DECLINED}


class BankSimulatorProvider(PaymentProvider):
    name = "bank_simulator"

    def __init__(self):
        self._local = threading.local()

    @property
    def _session(self) -> requests.Session:
        session = getattr(self._local, "session", None)
        if session is None:
            session = self._local.session = requests.Session()
        return session

    def _call(self, method: str, path: str, key: str = "", **kwargs) -> ProviderResult | dict:
        url = settings.PAYMENT_PROVIDER_URL.rstrip("/") + path
        headers = {"Idempotency-Key": key} if key else {}
        timeout = settings.PAYMENT_PROVIDER_TIMEOUT
        try:
            response = self._session.request(
                method, url, headers=headers, timeout=(min(timeout, 2.0), timeout), **kwargs
            )
        except requests.RequestException as exc:
            log.warning("bank simulator %s %s: %s", method, path, type(exc).__name__)
            return ProviderResult(Outcome.UNKNOWN, detail=type(exc).__name__)
        if response.status_code == 404:
            return ProviderResult(Outcome.NOT_FOUND)
        if response.status_code >= 500:
            return ProviderResult(Outcome.UNKNOWN, detail=f"HTTP {response.status_code}")
        try:
            body = response.json()
        except ValueError:
            return ProviderResult(Outcome.UNKNOWN, detail="unreadable answer")
        if response.status_code >= 400:
            # A refused request (bad token, refund over the charge): definite, nothing moved.
            return ProviderResult(Outcome.DECLINED, detail=str(body.get("error", ""))[:300])
        return body

    def _result(self, body: ProviderResult | dict) -> ProviderResult:
        if isinstance(body, ProviderResult):
            return body
        outcome = _FINAL.get(body.get("status"), Outcome.UNKNOWN)
        amount = from_minor(body["amount"], body["currency"]) if "amount" in body else None
        return ProviderResult(outcome, body.get("id", ""), body.get("decline_reason", ""), amount)

    def charge(self, amount: Decimal, currency: str, token: str, idempotency_key: str):
        payload = {"amount": to_minor(amount, currency), "currency": currency, "token": token}
        return self._result(self._call("POST", "/charges", idempotency_key, json=payload))

    def refund(self, charge_ref: str, amount: Decimal, idempotency_key: str):
        # The simulator refunds in the charge's currency; amounts are sent in its minor units.
        charge = self._call("GET", f"/charges/{charge_ref}")
        if isinstance(charge, ProviderResult):
            return charge
        payload = {"charge": charge_ref, "amount": to_minor(amount, charge["currency"])}
        return self._result(self._call("POST", "/refunds", idempotency_key, json=payload))

    def lookup(self, idempotency_key: str):
        body = self._call("GET", "/charges", params={"idempotency_key": idempotency_key})
        return self._result(body)
