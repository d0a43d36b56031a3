"""Call history through the API: what the call-session service recorded, per organization."""

from __future__ import annotations

import uuid

from tests.support.api import add_member, create_agent, signup, unique_phone


def _record_call(agent_id: str, number: str, *, reason: str = "caller_hangup") -> uuid.UUID:
    """A phone call as the webhook and the worker record it, through the same services."""
    from voice_platform.db import session_scope
    from voice_platform.services import calls

    sid = "CA" + uuid.uuid4().hex
    with session_scope() as session:
        routed = calls.open_phone_session(session, call_sid=sid, from_number="+15550001111", to_number=number)
        assert routed.session_id is not None and str(routed.agent_id) == agent_id
    with session_scope() as session:
        calls.claim_session(session, routed.session_id, room_name="call-abc")
        calls.record_turn(session, routed.session_id, "assistant", "Hello, Acme Dental.")
        calls.record_turn(session, routed.session_id, "user", "I'd like a cleaning on Friday.")
        calls.record_tool_invocation(session, routed.session_id, tool_name="google_calendar",
                                     function_name="book_appointment", arguments={"day": "Friday", "api_key": "k"},
                                     result={"booked": True}, duration_ms=120.5)
        calls.finish_session(session, routed.session_id, reason=reason)
    return routed.session_id


def test_calls_list_and_detail_with_transcript_and_tool_calls(client):
    admin = signup(client, "calls")
    number = unique_phone()
    agent = create_agent(client, admin, phone_number=number)
    call_id = _record_call(agent["id"], number)

    listed = client.get(f"/api/v1/calls/organization/{admin.org_id}", headers=admin.headers)
    assert listed.status_code == 200, listed.text
    body = listed.json()
    assert body["total"] == 1
    row = body["items"][0]
    assert (row["id"], row["agent_name"], row["status"], row["end_reason"], row["tool_calls"]) == (
        str(call_id), "Front desk", "completed", "caller_hangup", 1)

    detail = client.get(f"/api/v1/calls/{call_id}", headers=admin.headers).json()
    assert [(t["role"], t["text"]) for t in detail["turns"]] == [
        ("assistant", "Hello, Acme Dental."), ("user", "I'd like a cleaning on Friday.")]
    invocation = detail["tool_invocations"][0]
    assert invocation["function"] == "book_appointment" and invocation["result"] == {"booked": True}
    assert invocation["arguments"] == {"day": "Friday", "api_key": "[redacted]"}  # secrets never stored


def test_filters_and_validation(client):
    admin = signup(client, "filters")
    number = unique_phone()
    agent = create_agent(client, admin, phone_number=number)
    _record_call(agent["id"], number)
    _record_call(agent["id"], number, reason="error")
    url = f"/api/v1/calls/organization/{admin.org_id}"
    assert client.get(url, params={"status": "failed"}, headers=admin.headers).json()["total"] == 1
    assert client.get(url, params={"status": "completed"}, headers=admin.headers).json()["total"] == 1
    assert client.get(url, params={"agent_id": str(uuid.uuid4())}, headers=admin.headers).json()["total"] == 0
    assert client.get(url, params={"date_from": "2000-01-01", "date_to": "2000-01-02"}, headers=admin.headers).json()["total"] == 0
    reversed_range = client.get(url, params={"date_from": "2030-01-02", "date_to": "2030-01-01"}, headers=admin.headers)
    assert reversed_range.status_code == 422 and "start date" in reversed_range.text
    assert client.get(url, params={"status": "exploded"}, headers=admin.headers).status_code == 422


def test_members_read_calls_and_other_tenants_get_404(client):
    admin = signup(client, "tenant-a")
    number = unique_phone()
    agent = create_agent(client, admin, phone_number=number)
    call_id = _record_call(agent["id"], number)
    member = add_member(client, admin)
    assert client.get(f"/api/v1/calls/{call_id}", headers=member.headers).status_code == 200
    outsider = signup(client, "tenant-b")
    assert client.get(f"/api/v1/calls/{call_id}", headers=outsider.headers).status_code == 404
    assert client.get(f"/api/v1/calls/organization/{admin.org_id}", headers=outsider.headers).status_code == 404
    assert client.get(f"/api/v1/calls/{uuid.uuid4()}", headers=admin.headers).status_code == 404
