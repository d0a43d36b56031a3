"""Config rules JSON Schema alone cannot say: IANA time zones and ordered fields (start before end)."""

import pytest

from voice_platform.errors import ValidationFailed
from voice_platform.services.tool_config import clean_config
from voice_platform.tools.implementations.google_calendar import CONFIG_SCHEMA


def test_unknown_time_zone_is_refused_naming_the_field():
    with pytest.raises(ValidationFailed) as exc:
        clean_config(CONFIG_SCHEMA, [], {"time_zone": "Mars/Olympus"}, {})
    assert exc.value.field == "time_zone"
    config, _ = clean_config(CONFIG_SCHEMA, [], {"time_zone": "Europe/Paris"}, {})
    assert config == {"time_zone": "Europe/Paris"}


def test_business_hours_must_end_after_they_start():
    with pytest.raises(ValidationFailed) as exc:
        clean_config(CONFIG_SCHEMA, [], {"business_hours_start": "18:00", "business_hours_end": "09:00"}, {})
    assert exc.value.field == "business_hours_end" and "after" in exc.value.message
    # the default start (09:00) applies when only the end is sent
    with pytest.raises(ValidationFailed):
        clean_config(CONFIG_SCHEMA, [], {"business_hours_end": "08:00"}, {})
    config, _ = clean_config(CONFIG_SCHEMA, [], {"business_hours_start": "08:00", "business_hours_end": "12:30"}, {})
    assert config["business_hours_end"] == "12:30"


def test_api_answers_422_for_a_wrong_time_zone(client, admin, agent, catalogue):
    r = client.post(
        "/api/v1/tools/agent",
        json={"agent_id": agent["id"], "tool_name": "Google_calendar", "config": {"time_zone": "Mars/Olympus"}},
        headers=admin.headers,
    )
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "time_zone"]
