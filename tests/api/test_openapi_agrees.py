"""The OpenAPI document says what the validation enforces: generated clients and fuzzers build
requests from it, so a request it calls valid must be taken (ST202 "schema-valid request
rejected") and one it calls invalid refused (ST201), operation by operation.

Signed in as an org admin of a fresh organization per operation, on the run's database, with
the ids in paths pointed at real rows so the validations behind the tenant checks run.
"""

from __future__ import annotations

import uuid
from datetime import date

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.core.parameters import ParameterLocation
from schemathesis.generation import GenerationMode
from schemathesis.specs.openapi.checks import negative_data_rejection, positive_data_acceptance

from voice_platform.api import create_app

schema = schemathesis.openapi.from_asgi("/openapi.json", create_app())
schema.config.generation.update(modes=[GenerationMode.POSITIVE, GenerationMode.NEGATIVE])

# What no schema can say, and the two operations where the API refuses a request it declares
# well formed: whether this account already has a password (then the current one is required,
# else it must be left out), and a calls filter whose start date is after its end date.
STATEFUL = {("POST", "/api/v1/auth/password")}
CALLS = {("GET", "/api/v1/calls/organization/{org_id}"), ("GET", "/api/v1/calls/organization/{org_id}/export.csv")}
# Adding a custom tool depends on where its URL leads (does the host resolve, to a public
# address, does an MCP server answer there) and on rules across fields (a URL placeholder must be
# a parameter): no schema says that, so a well-formed request may be refused (422). Requests the
# schema calls malformed must still be refused.
DESTINATION_RULES = {("POST", "/api/v1/organizations/{org_id}/custom-tools"),
                     ("POST", "/api/v1/organizations/{org_id}/webhooks"),
                     ("PUT", "/api/v1/organizations/{org_id}/webhooks/{webhook_id}")}


def _is_uuid(value: object) -> bool:
    try:
        uuid.UUID(str(value)) if isinstance(value, str) else None
    except ValueError:
        return False
    return isinstance(value, str)


@pytest.fixture()
def admin(test_database) -> dict:
    from voice_platform.db import session_scope
    from voice_platform.services import agents, auth

    with session_scope() as session:
        signed_in, org = auth.signup(session, email="schema-admin@example.com", password="fuzzing password",
                                     organization_name="Schema")
        agent = agents.create_agent(session, signed_in.user, org.id, {"name": "Schema target",
                                                                      "phone_number": "+14155550122"})
    return {"headers": {"Authorization": f"Bearer {signed_in.access_token}"},
            "ids": {"org_id": str(org.id), "agent_id": str(agent.id), "user_id": str(signed_in.user.id)}}


@schema.exclude(method="DELETE").parametrize()  # deleting the org or agent under test proves nothing here
@settings(max_examples=20, deadline=None, suppress_health_check=list(HealthCheck), database=None, derandomize=True)
def test_schema_and_validation_agree(case, admin):
    if (case.method, case.path) in STATEFUL:
        pytest.skip("a rule of the account's state, not of the request's shape")
    # Only a well-formed id is swapped for a real one: a malformed one is what a negative case tests.
    for name, value in admin["ids"].items():
        if case.path_parameters and _is_uuid(case.path_parameters.get(name)):
            case.path_parameters[name] = value
    if isinstance(case.body, dict) and _is_uuid(case.body.get("organization_id")):
        case.body["organization_id"] = admin["ids"]["org_id"]
    headers = admin["headers"]
    if _tests_a_missing_token(case):
        headers = {}
    query = case.query or {}
    positive = case.meta is not None and case.meta.generation.mode.is_positive
    # A well-formed filter with its dates reversed is refused for that alone (a negative case may
    # break another rule first, and is checked as every negative case is, below).
    if (case.method, case.path) in CALLS and headers and positive and _dates_reversed(query.get("date_from"), query.get("date_to")):
        response = case.call(headers=headers)
        assert response.status_code == 422 and "start date must not be after" in response.text
        return
    response = case.call(headers=headers)
    if (case.method, case.path) in DESTINATION_RULES and response.status_code == 422 and positive:
        return
    case.validate_response(response, checks=[positive_data_acceptance, negative_data_rejection], headers=headers)


def _dates_reversed(start: object, end: object) -> bool:
    try:
        return date.fromisoformat(str(start)) > date.fromisoformat(str(end))
    except ValueError:
        return False


def _tests_a_missing_token(case) -> bool:
    """A negative case whose violation is the bearer token the schema requires, left out."""
    header = case.meta.components.get(ParameterLocation.HEADER) if case.meta is not None else None
    return (header is not None and header.mode.is_negative
            and "authorization" not in {name.lower() for name in (case.headers or {})})
