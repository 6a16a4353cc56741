"""The OpenAPI schema tells clients the truth: bearer auth, the real shapes of nested fields, and
the error format of every failure; its docs pages work without internet access."""

import re

import pytest
from django.contrib.staticfiles import finders
from django.core.management import call_command
from django.test import Client

pytestmark = pytest.mark.django_db

ERROR_REF = {"$ref": "#/components/schemas/Error"}


@pytest.fixture(scope="module")
def schema(django_db_blocker):
    with django_db_blocker.unblock():
        return Client().get("/api/v1/schema/?format=json").json()


def component(schema, ref_holder):
    name = ref_holder["$ref"].rsplit("/", 1)[-1]
    return schema["components"]["schemas"][name]


def test_bearer_tokens_are_a_documented_security_scheme(schema):
    schemes = schema["components"]["securitySchemes"]
    bearer = [s for s in schemes.values() if s.get("scheme") == "bearer"]
    assert bearer and bearer[0]["type"] == "http"
    hold = schema["paths"]["/api/v1/events/{event_id}/holds/"]["post"]
    assert any(schemes[name].get("scheme") == "bearer" for req in hold["security"] for name in req)


def test_nested_fields_have_their_real_types(schema):
    event = component(schema, {"$ref": "#/components/schemas/Event"})["properties"]
    venue = component(
        schema, event["venue"]["allOf"][0] if "allOf" in event["venue"] else event["venue"]
    )
    assert set(venue["properties"]) == {"name", "city", "address", "time_zone"}
    assert event["price_categories"]["type"] == "array"
    category = component(schema, event["price_categories"]["items"])
    assert category["properties"]["id"]["type"] == "integer"

    ticket = component(schema, {"$ref": "#/components/schemas/Ticket"})["properties"]
    seat = ticket["seat"]
    assert seat.get("nullable") is True
    seat_ref = seat["allOf"][0] if "allOf" in seat else seat
    assert set(component(schema, seat_ref)["properties"]) == {
        "id", "label", "section", "row", "number"
    }  # fmt: skip


@pytest.mark.parametrize(
    ("path", "method", "statuses"),
    [
        ("/api/v1/events/{event_id}/holds/", "post", [400, 401, 403, 404, 409, 422, 429, 503]),
        ("/api/v1/registrations/", "post", [400, 401, 409, 422, 429, 503]),
        ("/api/v1/bookings/{booking_id}/", "get", [401, 404, 429, 503]),
        ("/api/v1/events/", "get", [400, 429, 503]),
    ],
)
def test_error_answers_are_documented_with_the_error_schema(schema, path, method, statuses):
    responses = schema["paths"][path][method]["responses"]
    for status in statuses:
        assert responses[str(status)]["content"]["application/json"]["schema"] == ERROR_REF


def test_the_error_schema_is_the_format_the_api_answers_with(schema):
    error = schema["components"]["schemas"]["Error"]
    assert error["required"] == ["error"]
    assert error["properties"]["error"]["required"] == ["code", "message", "details"]


def test_schema_generation_has_no_warnings():
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", "/dev/null")


@pytest.mark.parametrize("path", ["/api/v1/docs/", "/api/v1/redoc/"])
def test_docs_pages_load_their_assets_from_this_server(path):
    response = Client().get(path)

    assert response.status_code == 200
    html = response.content.decode()
    assets = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert assets, html
    assert all(a.startswith("/static/") for a in assets if a.endswith((".js", ".css"))), assets
    assert not re.search(r"https?://", html), "nothing may load from another host"
    for asset in assets:
        if asset.startswith("/static/"):
            assert finders.find(asset.removeprefix("/static/")), asset
