"""Generated requests over the whole OpenAPI schema against the API as `make run` serves it
(gunicorn behind the project's nginx), logged in as a buyer: no 5xx, every answer as
documented, every error in the one error format.

Bounded (a few hundred requests in all) so it stays in the normal test run.
"""

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode, checks

from tests.conftest import browser_headers, create_seated_event, session_cookies

pytestmark = pytest.mark.django_db(transaction=True)  # the server process must see the rows

# Valid-looking and deliberately invalid requests per operation.
EXAMPLES_PER_OPERATION = {GenerationMode.POSITIVE: 15, GenerationMode.NEGATIVE: 10}
CHECKS = [
    checks.not_a_server_error,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_schema_conformance,
]


@pytest.fixture
def buyer_session(make_user):
    """A buyer's browser session, with an event on sale for ids to land on now and then."""
    create_seated_event(make_user(is_staff=True))
    return session_cookies(make_user())


# schemathesis.pytest.from_fixture does not run under pytest 9, so one test walks every operation.
def test_generated_requests_get_documented_answers(proxied_api_server, buyer_session):
    api_server = proxied_api_server
    schema = schemathesis.openapi.from_url(f"{api_server}/api/v1/schema/?format=json")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 10
    answered = []

    for operation in operations:
        for mode, examples in EXAMPLES_PER_OPERATION.items():

            @given(case=operation.as_strategy(generation_mode=mode))
            @settings(
                max_examples=examples,
                deadline=None,
                database=None,
                phases=[Phase.explicit, Phase.generate],
                suppress_health_check=list(HealthCheck),
            )
            def check(case):
                response = case.call_and_validate(
                    base_url=api_server,
                    cookies=buyer_session,
                    headers=browser_headers(),
                    checks=CHECKS,
                    timeout=10,
                )
                answered.append((case.method, case.path, response.status_code))
                if response.status_code >= 400:
                    error = response.json()["error"]
                    assert set(error) == {"code", "message", "details"}, error
                    assert isinstance(error["code"], str), error
                    assert isinstance(error["message"], str), error

            try:
                check()
            except Unsatisfiable:
                if mode is not GenerationMode.NEGATIVE:
                    raise  # else: the operation has no input that could be made invalid

    print(sorted({(m, p, s) for m, p, s in answered}))
    assert len(answered) >= 200, "the run is meant to send a few hundred requests"
