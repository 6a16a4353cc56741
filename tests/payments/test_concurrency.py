"""100 buyers pay at once through the real HTTP API, the booking and payment workers and the bank,
which declines 30% of the charges."""

import asyncio
import time

import httpx
import pytest

from payments.models import Payment
from registration_worker.models import Booking, Ticket
from shared.locks import seat_locks
from tests.conftest import browser_headers, create_seated_event, seat_ids, session_cookies
from tests.payments.conftest import quick_users

pytestmark = pytest.mark.django_db(transaction=True)

BUYERS = 100


async def _buy(url, cookies, event_id, seats, token, out):
    async with httpx.AsyncClient(
        base_url=url, cookies=cookies, headers=browser_headers(), timeout=60
    ) as client:
        held = await client.post(f"/api/v1/events/{event_id}/holds/", json={"seats": seats})
        assert held.status_code == 201, held.text
        response = await client.post(
            "/api/v1/registrations/",
            json={"hold": held.json()["id"], "payment_token": token},
            headers={"Idempotency-Key": f"pay-{seats[0]}"},
        )
        out.append((response.status_code, response.json(), seats))


async def _all(url, jobs):
    out = []
    await asyncio.gather(*(_buy(url, *job, out) for job in jobs))
    return out


def test_100_concurrent_paid_registrations_with_30_percent_declines(
    api_server, booking_worker, payment_worker, bank, organizer
):
    # given a queued paid event, 100 buyers with 2 seats each and a bank declining 30%
    bank.configure(decline_rate=0.3, latency_ms=20, seed=100)
    event = create_seated_event(
        organizer, rows=10, seats_per_row=20, registration_mode="queued", requires_payment=True
    )
    seats = seat_ids(event)
    jobs = [
        (session_cookies(buyer), event.pk, seats[2 * i : 2 * i + 2], bank.token())
        for i, buyer in enumerate(quick_users(BUYERS))
    ]
    # when they all register at once
    results = asyncio.run(_all(api_server, jobs))
    assert {r[0] for r in results} == {202}, [r for r in results if r[0] != 202][:3]
    # then every booking reaches a final state
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if not Booking.objects.filter(event=event).exclude(status__in=["confirmed", "failed"]):
            break
        time.sleep(0.2)
    bookings = list(Booking.objects.filter(event=event))
    assert len(bookings) == BUYERS
    assert {b.status for b in bookings} <= {"confirmed", "failed"}
    ledger = bank.ledger()
    charges = {}
    for charge in ledger["charges"]:
        charges.setdefault(charge["idempotency_key"], []).append(charge)
    refunded = {r["charge"] for r in ledger["refunds"]}
    failed_seats = []
    for booking in bookings:
        mine = charges.get(str(booking.pk), [])
        live = list(booking.tickets.exclude(status="cancelled").values_list("seat_id", flat=True))
        if booking.status == "confirmed":
            # confirmed: exactly one approved charge of the total, kept; two live tickets
            assert [(c["status"], c["amount"]) for c in mine] == [("approved", 9000)]
            assert mine[0]["id"] not in refunded
            assert Payment.objects.get(booking=booking).status == "approved"
            assert len(live) == 2
        else:
            # failed: declined, nothing kept, no live ticket
            assert booking.failure_reason == "payment_declined"
            assert len(mine) <= 1
            kept = [c for c in mine if c["status"] == "approved" and c["id"] not in refunded]
            assert kept == []
            assert live == []
            failed_seats += list(booking.tickets.values_list("seat_id", flat=True))
    failed = sum(1 for b in bookings if b.status == "failed")
    assert 10 <= failed <= 50, failed
    # and every seat of a failed booking is on sale again, the others sold
    held, sold, _ = seat_locks().seat_statuses(event.pk, seats)
    assert not (set(failed_seats) & (held | sold))
    assert len(sold) == 2 * (BUYERS - failed)
    assert Ticket.objects.filter(event=event).exclude(status="cancelled").count() == len(sold)
    public = httpx.get(f"{api_server}/api/v1/events/{event.pk}/seats/").json()["seats"]
    on_sale = {s["id"] for s in public if s["status"] == "available"}
    assert set(failed_seats) <= on_sale
