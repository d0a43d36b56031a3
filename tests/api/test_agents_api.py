from tests.support.api import add_member, create_agent, set_plan, signup, unique_phone


def test_agent_crud_round_trip(client):
    admin = signup(client, "owner")
    phone = unique_phone()
    agent = create_agent(client, admin, phone_number=phone, system_prompt="Book haircuts", voice="Kore")
    assert agent["phone_number"] == phone and agent["voice"] == "Kore"

    r = client.put(f"/api/v1/agents/{agent['id']}", json={"greeting": "Hello!", "is_active": False}, headers=admin.headers)
    assert r.status_code == 200 and r.json()["greeting"] == "Hello!" and r.json()["is_active"] is False

    listed = client.get(f"/api/v1/agents/organization/{admin.org_id}", headers=admin.headers).json()
    assert listed["total"] == 1 and listed["items"][0]["id"] == agent["id"]

    assert client.delete(f"/api/v1/agents/{agent['id']}", headers=admin.headers).status_code == 204
    assert client.get(f"/api/v1/agents/{agent['id']}", headers=admin.headers).status_code == 404


def test_pagination(client):
    admin = signup(client, "pager")
    set_plan(client, admin, "starter")  # Free allows 3 agents
    for i in range(5):
        create_agent(client, admin, name=f"Agent {i}")
    page = client.get(f"/api/v1/agents/organization/{admin.org_id}?offset=2&limit=2", headers=admin.headers).json()
    assert page["total"] == 5 and len(page["items"]) == 2 and page["offset"] == 2
    assert client.get(f"/api/v1/agents/organization/{admin.org_id}?limit=0", headers=admin.headers).status_code == 422


def test_phone_number_is_unique_across_the_platform(client):
    a, b = signup(client, "a"), signup(client, "b")
    phone = unique_phone()
    create_agent(client, a, phone_number=phone)
    r = client.post("/api/v1/agents", json={"organization_id": b.org_id, "name": "Copy", "phone_number": phone}, headers=b.headers)
    assert r.status_code == 409
    assert r.json()["field"] == "phone_number"


def test_invalid_agent_input_is_422_naming_the_field(client):
    admin = signup(client, "val")
    cases = [
        ({"name": "  "}, "name"),
        ({"name": "x", "phone_number": "4155550100"}, "phone_number"),
        ({"name": "x", "phone_number": "+1 (415) abc"}, "phone_number"),
        ({"name": "x", "system_prompt": "p" * 20001}, "system_prompt"),
        ({"name": "x", "voice": "Robot"}, "voice"),
        ({"name": "x", "language": "english"}, "language"),
    ]
    for body, field in cases:
        r = client.post("/api/v1/agents", json={"organization_id": admin.org_id, **body}, headers=admin.headers)
        assert r.status_code == 422, (body, r.text)
        assert r.json()["detail"][0]["loc"][-1] == field


def test_phone_number_is_normalised_to_e164(client):
    admin = signup(client, "norm")
    agent = create_agent(client, admin, phone_number="+1 415-555-0133")
    assert agent["phone_number"] == "+14155550133"


def test_member_can_read_but_not_write(client):
    admin = signup(client, "boss")
    member = add_member(client, admin)
    agent = create_agent(client, admin)
    assert client.get(f"/api/v1/agents/{agent['id']}", headers=member.headers).status_code == 200
    assert client.put(f"/api/v1/agents/{agent['id']}", json={"name": "x"}, headers=member.headers).status_code == 403
    r = client.post("/api/v1/agents", json={"organization_id": admin.org_id, "name": "x"}, headers=member.headers)
    assert r.status_code == 403


def test_call_settings_transfer_number_and_recording(client):
    from tests.support.api import create_agent, signup

    admin = signup(client, "calls")
    agent = create_agent(client, admin, transfer_number="+1 (415) 555-0199", record_calls=True,
                         recording_notice="This call is recorded.")
    assert agent["transfer_number"] == "+14155550199"
    assert agent["record_calls"] is True and agent["recording_notice"] == "This call is recorded."
    bad = client.put(f"/api/v1/agents/{agent['id']}", json={"transfer_number": "call Bob"}, headers=admin.headers)
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"][-1] == "transfer_number"
    off = client.put(f"/api/v1/agents/{agent['id']}", json={"transfer_number": "", "record_calls": False}, headers=admin.headers)
    assert off.status_code == 200 and off.json()["transfer_number"] is None and off.json()["record_calls"] is False
    fresh = create_agent(client, admin, name="Plain")
    assert fresh["record_calls"] is False  # recording is off unless switched on


def test_organization_time_zone_is_an_iana_name(client):
    from tests.support.api import signup

    admin = signup(client, "tz")
    org = client.get(f"/api/v1/organizations/{admin.org_id}", headers=admin.headers).json()
    assert org["timezone"] == "UTC"
    ok = client.put(f"/api/v1/organizations/{admin.org_id}", json={"timezone": "Europe/Berlin"}, headers=admin.headers)
    assert ok.status_code == 200 and ok.json()["timezone"] == "Europe/Berlin"
    bad = client.put(f"/api/v1/organizations/{admin.org_id}", json={"timezone": "Mars/Olympus"}, headers=admin.headers)
    assert bad.status_code == 422 and "IANA" in bad.text


def test_search_by_name_or_number(client):
    from tests.support.api import create_agent, signup

    admin = signup(client, "search")
    create_agent(client, admin, name="Front Desk", phone_number="+14155550142")
    create_agent(client, admin, name="After hours 100%_", phone_number="+14155550199")
    url = f"/api/v1/agents/organization/{admin.org_id}"
    names = lambda q: sorted(a["name"] for a in client.get(url, params={"q": q}, headers=admin.headers).json()["items"])  # noqa: E731
    assert names("front") == ["Front Desk"]
    assert names("0142") == ["Front Desk"]
    assert names("100%_") == ["After hours 100%_"]  # LIKE wildcards are literal
    assert names("%") == ["After hours 100%_"]
    assert names("nobody") == []


def test_hold_music_is_an_audio_address_or_twilios(client):
    admin = signup(client, "hold-music")
    agent = create_agent(client, admin, transfer_mode="warm", hold_music_url="")
    assert agent["hold_music_url"] is None  # empty: Twilio's hold music
    music = "https://cdn.example.com:8443/hold/strings.mp3?v=2"
    r = client.put(f"/api/v1/agents/{agent['id']}", json={"hold_music_url": music}, headers=admin.headers)
    assert r.status_code == 200 and r.json()["hold_music_url"] == music
    assert client.get(f"/api/v1/agents/{agent['id']}", headers=admin.headers).json()["hold_music_url"] == music
    for bad in ("ftp://cdn.example.com/hold.mp3", "https://cdn.example.com/hold music.mp3", "hold.mp3",
                "https://user@cdn.example.com/hold.mp3", "https://cdn.example.com/" + "a" * 500):
        r = client.put(f"/api/v1/agents/{agent['id']}", json={"hold_music_url": bad}, headers=admin.headers)
        assert r.status_code == 422 and r.json()["detail"][0]["loc"][-1] == "hold_music_url", (bad, r.text)
    r = client.put(f"/api/v1/agents/{agent['id']}", json={"hold_music_url": None}, headers=admin.headers)
    assert r.status_code == 200 and r.json()["hold_music_url"] is None
