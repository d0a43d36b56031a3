"""A fake Twilio REST API (2010-04-01) on 127.0.0.1, for the real ``twilio`` Client.

Speaks Twilio's wire format for what the platform uses: form-encoded requests with HTTP
Basic auth (account SID + auth token), answered with Twilio's JSON resources, list pages
(``incoming_phone_numbers`` / ``available_phone_numbers`` plus the page keys) and error
bodies (``{"code", "message", "more_info", "status"}``):

- GET  /Accounts/{AC}/AvailablePhoneNumbers/{CC}/Local.json   (AreaCode, Contains, PageSize)
- GET  /Accounts/{AC}/IncomingPhoneNumbers.json                (PhoneNumber filter)
- POST /Accounts/{AC}/IncomingPhoneNumbers.json                (buy: PhoneNumber, VoiceUrl, ...)
- GET/POST/DELETE /Accounts/{AC}/IncomingPhoneNumbers/{PN}.json (fetch, update, release)
- POST /Accounts/{AC}/Calls.json                               (place a call: tests/fakes/twilio_calls.py,
                                                               which also plays it: answer, AMD, statuses)
- POST /Accounts/{AC}/Calls/{CA}.json                          (Twiml, Status)

The platform reaches it through ``TWILIO_API_BASE_URL`` (``settings_env()``), as it would a
Twilio-compatible provider. ``http_client()`` gives a ``TwilioHttpClient`` that sends
``https://api.twilio.com`` requests here instead, for code holding its own ``Client``.
Every request is recorded. ``fail_with`` answers everything with an error (a Twilio outage),
``hang`` holds every request until set (a hanging Twilio). The server stops by itself after
``idle_timeout`` seconds without a request, so a forgotten one never outlives its run.
"""

from __future__ import annotations

import base64
import json
import re
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from twilio.http.http_client import TwilioHttpClient

from tests.fakes.twilio_calls import CallPlayer

API = "/2010-04-01"
AVAILABLE = re.compile(r"^/2010-04-01/Accounts/(AC\w+)/AvailablePhoneNumbers/([A-Z]{2})/Local\.json$")
INCOMING_LIST = re.compile(r"^/2010-04-01/Accounts/(AC\w+)/IncomingPhoneNumbers\.json$")
INCOMING_ONE = re.compile(r"^/2010-04-01/Accounts/(AC\w+)/IncomingPhoneNumbers/(PN\w+)\.json$")
CALLS = re.compile(r"^/2010-04-01/Accounts/(AC\w+)/Calls\.json$")
CALL = re.compile(r"^/2010-04-01/Accounts/(AC\w+)/Calls/(CA\w+)\.json$")
KEYPAD = {c: d for d, letters in {"2": "ABC", "3": "DEF", "4": "GHI", "5": "JKL", "6": "MNO", "7": "PQRS",
                                  "8": "TUV", "9": "WXYZ"}.items() for c in letters}
UPDATABLE = {"VoiceUrl": "voice_url", "VoiceMethod": "voice_method", "StatusCallback": "status_callback",
             "StatusCallbackMethod": "status_callback_method", "FriendlyName": "friendly_name"}


def _error(status: int, code: int, message: str) -> dict[str, Any]:
    return {"code": code, "message": message, "more_info": f"https://www.twilio.com/docs/errors/{code}", "status": status}


def _friendly(e164: str) -> str:
    """Twilio's friendly name: (415) 555-0100 for North America, the number itself elsewhere."""
    if e164.startswith("+1") and len(e164) == 12:
        return f"({e164[2:5]}) {e164[5:8]}-{e164[8:]}"
    return e164


def contains_pattern(pattern: str) -> re.Pattern[str]:
    """Twilio's ``Contains``: digits or letters (keypad), ``*`` one digit, ``%`` any digits, ``+``/``$`` anchors."""
    regex = "^" if pattern.startswith("+") else ""
    for char in pattern.lstrip("+").rstrip("$"):
        regex += r"\d" if char == "*" else r"\d*" if char == "%" else KEYPAD.get(char.upper(), re.escape(char))
    return re.compile(regex + ("$" if pattern.endswith("$") else ""))


def _page(key: str, items: list[dict], path: str, page_size: int) -> dict[str, Any]:
    uri = f"{path}?PageSize={page_size}&Page=0"
    return {key: items, "end": max(len(items) - 1, 0), "first_page_uri": uri, "next_page_uri": None, "page": 0,
            "page_size": page_size, "previous_page_uri": None, "start": 0, "uri": uri}


class FakeTwilio(CallPlayer):
    """Start with ``with FakeTwilio() as twilio:``; seed it with ``offer()``, ``own()``, ``add_call()``;
    play the calls the platform places with ``answer()``, ``machine()``, ``status()``, ``play()``."""

    def __init__(self, account_sid: str | None = None, auth_token: str | None = None, *,
                 idle_timeout: float = 300.0) -> None:
        self.account_sid = account_sid or "AC" + uuid.uuid4().hex
        self.auth_token = auth_token or uuid.uuid4().hex
        self.available: list[dict[str, Any]] = []  # numbers Twilio offers for sale
        self.incoming: dict[str, dict[str, Any]] = {}  # PN sid -> the account's IncomingPhoneNumber
        self.calls: dict[str, dict[str, Any]] = {}  # CA sid -> Call
        self.requests: list[dict[str, Any]] = []
        self.fail_with: int | None = None
        self.hang: threading.Event | None = None
        self.lock = threading.Lock()
        self.idle_timeout = idle_timeout
        self._server: ThreadingHTTPServer | None = None
        self._init_calls()

    # -- seeding and inspecting -------------------------------------------------------
    def offer(self, e164: str, *, locality: str = "San Francisco", region: str = "CA", iso_country: str = "US") -> None:
        self.available.append({
            "friendly_name": _friendly(e164), "phone_number": e164, "lata": "722", "locality": locality,
            "rate_center": locality.upper(), "latitude": "37.770000", "longitude": "-122.420000", "region": region,
            "postal_code": "94103", "iso_country": iso_country, "address_requirements": "none", "beta": False,
            "capabilities": {"voice": True, "SMS": True, "MMS": True, "fax": False},
        })

    def own(self, e164: str, *, voice_url: str = "https://old-provider.example.com/voice",
            status_callback: str = "") -> str:
        """A number the account already owns (bought elsewhere): its SID."""
        return self._create({"PhoneNumber": e164, "VoiceUrl": voice_url, "StatusCallback": status_callback})["sid"]

    def add_call(self, call_sid: str, from_: str = "+15550001111", to: str = "+14155550000") -> None:
        self.calls[call_sid] = {"sid": call_sid, "account_sid": self.account_sid, "from": from_, "to": to,
                                "status": "in-progress", "direction": "inbound", "api_version": "2010-04-01",
                                "uri": f"{API}/Accounts/{self.account_sid}/Calls/{call_sid}.json"}

    def requests_to(self, method: str, path_suffix: str) -> list[dict[str, Any]]:
        return [r for r in self.requests if r["method"] == method and r["path"].endswith(path_suffix)]

    def settings_env(self) -> dict[str, str]:
        """The platform pointed here the way an operator would: TWILIO_API_BASE_URL."""
        return {"TWILIO_ACCOUNT_SID": self.account_sid, "TWILIO_AUTH_TOKEN": self.auth_token,
                "TWILIO_API_BASE_URL": self.base_url}

    # -- resources ----------------------------------------------------------------------
    def _create(self, form: dict[str, str]) -> dict[str, Any]:
        sid = "PN" + uuid.uuid4().hex
        now = formatdate(usegmt=True).replace("GMT", "+0000")
        record = {
            "account_sid": self.account_sid, "address_requirements": "none", "address_sid": None,
            "api_version": "2010-04-01", "beta": False,
            "capabilities": {"voice": True, "sms": True, "mms": True, "fax": False},
            "date_created": now, "date_updated": now, "emergency_status": "Inactive", "emergency_address_sid": None,
            "emergency_address_status": "unregistered", "friendly_name": form.get("FriendlyName") or _friendly(form["PhoneNumber"]),
            "identity_sid": None, "origin": "twilio", "phone_number": form["PhoneNumber"], "sid": sid,
            "sms_application_sid": "", "sms_fallback_method": "POST", "sms_fallback_url": "", "sms_method": "POST",
            "sms_url": "", "status_callback": form.get("StatusCallback", ""),
            "status_callback_method": form.get("StatusCallbackMethod", "POST"), "trunk_sid": None,
            "uri": f"{API}/Accounts/{self.account_sid}/IncomingPhoneNumbers/{sid}.json",
            "voice_application_sid": "", "voice_caller_id_lookup": False, "voice_fallback_method": "POST",
            "voice_fallback_url": None, "voice_method": form.get("VoiceMethod", "POST"),
            "voice_url": form.get("VoiceUrl") or None, "voice_receive_mode": "voice", "bundle_sid": None,
            "status": "in-use", "type": "local",
            "subresource_uris": {"assigned_add_ons": f"{API}/Accounts/{self.account_sid}/IncomingPhoneNumbers/{sid}/AssignedAddOns.json"},
        }
        self.incoming[sid] = record
        return record

    def _route(self, method: str, path: str, query: dict[str, str], form: dict[str, str],
               lists: dict[str, list[str]] | None = None) -> tuple[int, Any]:
        if match := AVAILABLE.match(path):
            if method != "GET" or match.group(1) != self.account_sid:
                return 404, _error(404, 20404, f"The requested resource {path} was not found")
            owned = {n["phone_number"] for n in self.incoming.values()}
            found = [n for n in self.available if n["iso_country"] == match.group(2) and n["phone_number"] not in owned]
            if query.get("AreaCode"):
                found = [n for n in found if n["phone_number"][2:5] == query["AreaCode"]]
            if query.get("Contains"):
                pattern = contains_pattern(query["Contains"])
                found = [n for n in found if pattern.search(n["phone_number"].lstrip("+"))]
            size = int(query.get("PageSize") or 50)
            return 200, _page("available_phone_numbers", found[:size], path, size)
        if match := INCOMING_LIST.match(path):
            if match.group(1) != self.account_sid:
                return 404, _error(404, 20404, f"The requested resource {path} was not found")
            if method == "GET":
                found = [n for n in self.incoming.values()
                         if not query.get("PhoneNumber") or n["phone_number"] == query["PhoneNumber"]]
                size = int(query.get("PageSize") or 50)
                return 200, _page("incoming_phone_numbers", found[:size], path, size)
            if method == "POST":
                wanted = form.get("PhoneNumber", "")
                if not any(n["phone_number"] == wanted for n in self.available) or any(
                        n["phone_number"] == wanted for n in self.incoming.values()):
                    return 400, _error(400, 21422, "PhoneNumber requested is not available")
                self.available = [n for n in self.available if n["phone_number"] != wanted]
                return 201, self._create(form)
        if match := INCOMING_ONE.match(path):
            record = self.incoming.get(match.group(2)) if match.group(1) == self.account_sid else None
            if record is None:
                return 404, _error(404, 20404, f"The requested resource {path} was not found")
            if method == "GET":
                return 200, record
            if method == "POST":
                for field, key in UPDATABLE.items():
                    if field in form:
                        record[key] = form[field]
                return 200, record
            if method == "DELETE":
                del self.incoming[match.group(2)]
                return 204, None
        if (match := CALLS.match(path)) and method == "POST" and match.group(1) == self.account_sid:
            return self._create_call(form, lists or {})
        if match := CALL.match(path):
            call = self.calls.get(match.group(2)) if match.group(1) == self.account_sid else None
            if call is None or method != "POST":
                return 404, _error(404, 20404, f"The requested resource {path} was not found")
            if "Twiml" in form:
                call["twiml"] = form["Twiml"]
                self._updated(match.group(2), form["Twiml"])
            if "Status" in form:
                call["status"] = form["Status"]
            return 200, call
        return 404, _error(404, 20404, f"The requested resource {path} was not found")

    # -- the server -----------------------------------------------------------------
    def __enter__(self) -> "FakeTwilio":
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def _handle(self) -> None:
                server.last_request = time.monotonic()
                parts = urlsplit(self.path)
                query = {k: v[0] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
                lists = parse_qs(body, keep_blank_values=True)
                form = {k: v[0] for k, v in lists.items()}
                auth = self.headers.get("Authorization")
                with fake.lock:
                    fake.requests.append({"method": self.command, "path": parts.path, "query": query, "form": form,
                                          "form_lists": lists, "auth": auth})
                if fake.hang is not None:
                    fake.hang.wait(30)
                if fake.fail_with:
                    return self._json(fake.fail_with, _error(fake.fail_with, 20500, "Internal Server Error"))
                expected = "Basic " + base64.b64encode(f"{fake.account_sid}:{fake.auth_token}".encode()).decode()
                if auth != expected:
                    return self._json(401, _error(401, 20003, "Authenticate"))
                with fake.lock:
                    status, payload = fake._route(self.command, parts.path, query, form, lists)
                return self._json(status, payload)

            do_GET = do_POST = do_DELETE = _handle  # noqa: N815 - http.server's naming

            def _json(self, status: int, payload: Any) -> None:
                data = b"" if payload is None else json.dumps(payload).encode()
                self.send_response(status)
                if payload is not None:
                    self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *_args) -> None:
                return

        class Server(ThreadingHTTPServer):
            daemon_threads = True
            last_request = time.monotonic()

            def service_actions(self) -> None:  # between polls: stop by itself when forgotten
                if time.monotonic() - self.last_request > fake.idle_timeout:
                    threading.Thread(target=self.shutdown, daemon=True).start()

        server = Server(("127.0.0.1", 0), Handler)
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True)
        self._thread.start()
        self.base_url = f"http://127.0.0.1:{server.server_address[1]}"
        return self

    def __exit__(self, *_exc) -> None:
        if self.hang is not None:
            self.hang.set()
        assert self._server is not None
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)

    def http_client(self, timeout: float = 5.0) -> TwilioHttpClient:
        """A TwilioHttpClient whose https://api.twilio.com requests land on this fake."""
        base = self.base_url

        class ToFake(TwilioHttpClient):
            def request(self, method, url, *args, **kwargs):
                return super().request(method, url.replace("https://api.twilio.com", base, 1), *args, **kwargs)

        return ToFake(timeout=timeout)


@contextmanager
def platform_on_fake(monkeypatch, **env: str) -> Iterator[FakeTwilio]:
    """The platform's Twilio settings and adapter pointed at a fresh fake (plus ``env`` settings)."""
    from voice_platform.settings import reset_settings_cache

    with FakeTwilio() as fake:
        for key, value in {**fake.settings_env(), **env}.items():
            monkeypatch.setenv(key, value)
        reset_settings_cache()
        try:
            yield fake
        finally:
            monkeypatch.undo()
            reset_settings_cache()


PUBLIC_URL = "https://voice.example.com"


@pytest.fixture()
def twilio(monkeypatch, test_database) -> Iterator[FakeTwilio]:
    """Twilio configured, its REST API served by a fresh fake; the platform's public URL is ours."""
    with platform_on_fake(monkeypatch, PUBLIC_BASE_URL=PUBLIC_URL) as fake:
        yield fake


@pytest.fixture()
def no_twilio(monkeypatch, test_database):
    """The embedded default: no Twilio credentials."""
    from voice_platform.settings import reset_settings_cache

    for key in ("TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("PUBLIC_BASE_URL", PUBLIC_URL)
    reset_settings_cache()
    yield
    monkeypatch.undo()
    reset_settings_cache()
