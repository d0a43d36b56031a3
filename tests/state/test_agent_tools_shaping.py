"""The tools page's pure shaping: schema → form fields, browser strings → config values."""

from __future__ import annotations

from voice_platform.state.agent_tools import config_fields, form_to_config, tool_title

SCHEMA = {
    "type": "object",
    "required": ["mode"],
    "properties": {
        "hours_end": {"type": "string", "pattern": "^([01][0-9]|2[0-3]):[0-5][0-9]$", "default": "17:00"},
        "hours_start": {"type": "string", "format": "time", "default": "09:00"},
        "mode": {"type": "string", "enum": ["fast", "careful"], "default": "fast"},
        "retries": {"type": "integer", "default": 3},
        "verbose": {"type": "boolean", "default": True},
        "api_key": {"type": "string"},
        "label": {"type": "string", "title": "Label"},
    },
}


def test_each_schema_type_gets_its_control_with_defaults_filled_and_secrets_hidden():
    fields = {f["name"]: f for f in config_fields(SCHEMA, ["api_key"], {"retries": 5}, ["api_key"])}
    assert {n: f["kind"] for n, f in fields.items()} == {
        "hours_end": "time", "hours_start": "time", "mode": "select", "retries": "integer",
        "verbose": "boolean", "api_key": "secret", "label": "string",
    }
    assert fields["retries"]["value"] == "5" and fields["hours_start"]["value"] == "09:00"
    assert fields["verbose"]["value"] == "true" and fields["mode"]["options"] == ["fast", "careful"]
    assert fields["mode"]["required"] and not fields["label"]["required"]
    assert fields["api_key"] == {**fields["api_key"], "value": "", "is_set": True}
    order = [f["name"] for f in config_fields(SCHEMA, ["api_key"], {}, [])]
    assert order.index("hours_start") < order.index("hours_end")  # JSONB loses key order; start still comes first


def test_form_values_become_json_and_bad_numbers_reach_the_service_as_typed():
    fields = config_fields(SCHEMA, ["api_key"], {}, [])
    form = {"retries": "x1", "verbose": "on", "mode": "careful", "label": " ", "api_key": "", "hours_start": "08:30"}
    assert form_to_config(fields, form) == {"retries": "x1", "verbose": True, "mode": "careful", "hours_start": "08:30"}
    assert form_to_config(fields, {"retries": "7", "api_key": "s3cret"}) == {"retries": 7, "verbose": False, "api_key": "s3cret"}


def test_a_time_zone_is_typed_as_text_not_as_a_time_of_day():
    schema = {"properties": {"time_zone": {"type": "string", "format": "time-zone", "default": "UTC"}}}
    (field,) = config_fields(schema, [], {}, [])
    assert field["kind"] == "string" and field["value"] == "UTC"


def test_titles():
    assert tool_title("Google_calendar") == "Google Calendar"
