"""QA (tools): a JSON body with a lone UTF-16 surrogate escape ("\\ud800") is bad input: 4xx, never a 500.

Such escapes are valid JSON syntax, Python decodes them to an unencodable str, and an
error message that echoes the value cannot be encoded as UTF-8 by Starlette.
"""

from __future__ import annotations

import pytest

from tests.support.api import create_agent, signup
from tests.tools.conftest import attach

JSON = {"content-type": "application/json"}


def _post(client, url, raw: str, headers=None, method="post"):
    return client.request(method.upper(), url, content=raw.encode(), headers={**JSON, **(headers or {})})


@pytest.mark.parametrize("raw", ['{"config": {"\\ud800": "x"}}', '{"config": {"calendar_id": "\\udfff"}}'])
def test_tool_config_bodies(client, catalogue, raw):
    admin = signup(client, "qa")
    agent = create_agent(client, admin)
    at = attach(client, admin, agent["id"], "Google_calendar")
    r = _post(client, f"/api/v1/tools/agent/{at['id']}", raw, admin.headers, method="put")
    assert r.status_code == 422, r.text


def test_attach_by_tool_name(client, catalogue):
    admin = signup(client, "qa")
    agent = create_agent(client, admin)
    r = _post(client, "/api/v1/tools/agent", '{"agent_id": "%s", "tool_name": "\\ud800"}' % agent["id"], admin.headers)
    assert r.status_code in (404, 422), r.text
