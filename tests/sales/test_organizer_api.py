"""The organizer API: each organizer sees only their own events' sales; admins see all."""

import uuid

import pytest
from rest_framework.test import APIClient

from registration_worker.models import OutboxMessage
from sales.projector import apply_message
from tests.conftest import create_ga_event, create_seated_event, seat_ids
from tests.ticketing.test_holds_api import assert_error

pytestmark = pytest.mark.django_db


def client_of(user=None) -> APIClient:
    client = APIClient()
    if user is not None:
        client.force_authenticate(user)
    return client


def _book(buyer, event, seats):
    client = client_of(buyer)
    held = client.post(f"/api/v1/events/{event.pk}/holds/", {"seats": seats}, format="json")
    assert held.status_code == 201, held.content
    response = client.post(
        "/api/v1/registrations/",
        {"hold": held.json()["id"]},
        format="json",
        HTTP_IDEMPOTENCY_KEY=uuid.uuid4().hex,
    )
    assert response.status_code == 201, response.content


def _project_outbox():
    """What the projector would do with the outbox rows (this test needs no broker)."""
    for message in OutboxMessage.objects.order_by("id"):
        apply_message(message_id=message.pk, topic=message.topic, payload=message.payload)


@pytest.fixture
def make_user(django_user_model):
    """Users without a password (hashing one costs a good part of a second here)."""

    def make(name=None, **flags):
        name = name or f"user-{uuid.uuid4().hex[:10]}"
        return django_user_model.objects.create(username=name, email=f"{name}@example.com", **flags)

    return make


@pytest.fixture
def sale(make_user):
    first, second = make_user("org-one", is_staff=True), make_user("org-two", is_staff=True)
    mine = create_seated_event(first, title="Mine")
    theirs = create_seated_event(second, title="Theirs")
    buyer = make_user()
    seats = seat_ids(mine)
    _book(buyer, mine, seats[:3])
    _book(buyer, theirs, seat_ids(theirs)[:1])
    _project_outbox()
    # one more buyer holds two seats without registering
    client_of(make_user()).post(
        f"/api/v1/events/{mine.pk}/holds/", {"seats": seats[5:7]}, format="json"
    )
    return first, second, mine, theirs


def test_an_organizer_lists_only_their_own_events_with_figures(sale):
    first, _, mine, _ = sale
    response = client_of(first).get("/api/v1/organizer/events/")
    assert response.status_code == 200
    [row] = response.json()
    assert (row["id"], row["title"], row["tickets_sold"]) == (mine.pk, "Mine", 3)
    assert row["revenue"]["gross"] == "135.00"


def test_the_sales_of_an_event_count_sold_held_and_available_per_section_and_category(sale):
    first, _, mine, _ = sale
    response = client_of(first).get(f"/api/v1/organizer/events/{mine.pk}/sales/")
    assert response.status_code == 200, response.content
    body = response.json()
    totals = body["totals"]
    assert (totals["capacity"], totals["sold"], totals["held"], totals["available"]) == (
        10, 3, 2, 5,
    )  # fmt: skip
    [section] = body["sections"]
    assert (section["code"], section["sold"], section["held"], section["available"]) == (
        "stalls", 3, 2, 5,
    )  # fmt: skip
    [category] = body["categories"]
    assert (category["name"], category["sold"], category["value"]) == ("Category A", 3, "135.00")
    assert body["revenue"] == {
        "currency": "EUR", "gross": "135.00", "refunds": "0.00", "net": "135.00",
        "commission": "0.00", "payout": "135.00",
    }  # fmt: skip
    [hour] = body["hourly"]
    assert (hour["tickets_sold"], hour["gross"]) == (3, "135.00")
    # the venue's figures are the organizer's own events there only
    assert body["venue_revenue"]["gross"] == "135.00"


def test_another_organizers_event_is_not_found(sale):
    first, second, mine, theirs = sale
    assert_error(
        client_of(second).get(f"/api/v1/organizer/events/{mine.pk}/sales/"), 404, "event_not_found"
    )
    assert_error(
        client_of(first).get(f"/api/v1/organizer/events/{theirs.pk}/sales/"),
        404,
        "event_not_found",
    )


def test_buyers_see_no_events_and_strangers_must_log_in(sale, make_user):
    _, _, mine, _ = sale
    assert client_of(make_user()).get("/api/v1/organizer/events/").json() == []
    assert_error(
        client_of(make_user()).get(f"/api/v1/organizer/events/{mine.pk}/sales/"),
        404,
        "event_not_found",
    )
    response = client_of().get("/api/v1/organizer/events/")
    assert response.status_code in (401, 403)
    assert response.json()["error"]["code"]


def test_platform_admins_see_every_event(sale, make_user):
    _, _, mine, theirs = sale
    admin = make_user("root", is_staff=True, is_superuser=True)
    listed = {row["id"] for row in client_of(admin).get("/api/v1/organizer/events/").json()}
    assert {mine.pk, theirs.pk} <= listed
    response = client_of(admin).get(f"/api/v1/organizer/events/{theirs.pk}/sales/")
    assert response.status_code == 200
    assert response.json()["totals"]["sold"] == 1


def test_the_organizer_api_is_documented_in_the_openapi_schema(client):
    schema = client.get("/api/v1/schema/?format=json").json()
    assert "/api/v1/organizer/events/" in schema["paths"]
    sales = schema["paths"]["/api/v1/organizer/events/{event_id}/sales/"]["get"]
    assert "404" in sales["responses"]
    assert "EventSales" in schema["components"]["schemas"]


def test_general_admission_counts_come_from_the_capacity(make_user):
    organizer = make_user("org-ga", is_staff=True)
    event = create_ga_event(organizer, capacity=10)
    buyer = client_of(make_user())
    held = buyer.post(f"/api/v1/events/{event.pk}/holds/", {"quantity": 3}, format="json")
    response = buyer.post(
        "/api/v1/registrations/",
        {"hold": held.json()["id"]},
        format="json",
        HTTP_IDEMPOTENCY_KEY=uuid.uuid4().hex,
    )
    assert response.status_code == 201, response.content
    _project_outbox()
    client_of(make_user()).post(f"/api/v1/events/{event.pk}/holds/", {"quantity": 2}, format="json")
    body = client_of(organizer).get(f"/api/v1/organizer/events/{event.pk}/sales/").json()
    totals = body["totals"]
    assert (totals["capacity"], totals["sold"], totals["held"], totals["available"]) == (
        10, 3, 2, 5,
    )  # fmt: skip
    assert body["sections"] == []
    [category] = body["categories"]
    assert (category["sold"], category["capacity"], category["value"]) == (3, None, "90.00")
