"""A stand-in for a card processor: its own process, its own ledger, configurable misbehaviour.

Run it with ``python -m bank_simulator --port 8200``; see ``server.py`` for the endpoints.
Nothing in the platform imports it: the platform talks to it over HTTP only, through
``payments.providers.bank_simulator``.
"""
