"""Versioned message contracts. Plain JSON on the wire: never pickle, never model instances."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from decimal import Decimal


class ContractVersionError(ValueError):
    """A message of a version this code does not understand."""


@dataclass(frozen=True)
class TicketLine:
    """One ticket to write: a seat (None for general admission) at a snapshotted price."""

    price_category_id: int
    price: str  # Decimal as text, so JSON keeps every cent
    seat_id: int | None = None

    @property
    def amount(self) -> Decimal:
        return Decimal(self.price)


@dataclass(frozen=True)
class ProcessBookingCommand:
    """Turn a pending booking into tickets. ``command_id`` is its idempotency key.

    Carries everything the worker needs so that it never has to read the ticketing app:
    the event, the hold, the buyer, the ticket lines with their prices, the currency and, for
    general admission, the capacity to enforce.
    """

    command_id: str
    booking_id: str
    event_id: int
    hold_id: str
    buyer_id: int
    currency: str
    lines: tuple[TicketLine, ...]
    ga_capacity: int | None = None
    trace_id: str = ""
    # v2: a paid event's booking ends in ``pending_payment`` and starts the payments saga.
    payment_required: bool = False
    version: int = field(default=2)

    VERSION = 2
    READS = (1, 2)  # a v1 command is a free booking

    @property
    def seat_ids(self) -> tuple[int, ...]:
        return tuple(line.seat_id for line in self.lines if line.seat_id is not None)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> ProcessBookingCommand:
        if data.get("version") not in cls.READS:
            raise ContractVersionError(f"ProcessBookingCommand version {data.get('version')!r}")
        lines = tuple(TicketLine(**line) for line in data["lines"])
        return cls(**{**data, "lines": lines, "version": cls.VERSION})


@dataclass(frozen=True)
class ChargeBooking:
    """Charge a booking awaiting payment (the payments saga's first step).

    Written to the outbox in the transaction that puts the booking in ``pending_payment`` and
    relayed to the ``payments`` queue. The booking id is the command's idempotency key and the
    one the bank sees; amount and token are read from the booking's Payment row, so the
    message carries no card data and cannot disagree with the database.
    """

    command_id: str
    booking_id: str
    trace_id: str = ""
    version: int = field(default=1)

    VERSION = 1

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> ChargeBooking:
        if data.get("version") != cls.VERSION:
            raise ContractVersionError(f"ChargeBooking version {data.get('version')!r}")
        return cls(**data)
