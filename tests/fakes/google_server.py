"""A fake Google OAuth + Calendar v3 server on 127.0.0.1, speaking Google's JSON wire format.

The real google-auth-oauthlib / google-auth / google-api-python-client talk to it
when settings point ``GOOGLE_AUTH_URI``, ``GOOGLE_TOKEN_URI``, ``GOOGLE_REVOKE_URI``,
``GOOGLE_CERTS_URI`` and ``GOOGLE_CALENDAR_API_ENDPOINT`` here. The token endpoint's
``id_token`` is an RS256 JWT signed with a key generated per server, whose certificate
``/oauth2/v1/certs`` publishes as Google does (``{kid: PEM}``), so "Sign in with Google"
runs google-auth's real verification; ``/oauth2/v3/userinfo`` answers for access tokens.
The identity a consent grants is the state's ``account_email``/``subject``/``email_verified``/
``name`` at that moment (tests change them between round trips). The consent page approves at once
(a 302 back to the redirect URI with a code), so a browser test can run the whole
round trip. The server stops by itself after ``idle_timeout`` seconds without a
request, so a forgotten one never outlives its test run.

Run standalone for browser tests: ``python -m tests.fakes.google_server --port 8765``.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import secrets
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlparse


@dataclass
class FakeGoogleState:
    client_id: str = "fake-client-id.apps.googleusercontent.com"
    client_secret: str = "fake-client-secret"
    account_email: str = "owner@example.com"
    subject: str = "1234567890"  # Google's stable account id ("sub")
    email_verified: bool = True
    name: str | None = "Fake Owner"
    deny_consent: bool = False  # the consent page answers error=access_denied (the user clicked Cancel)
    id_token_lifetime: int = 3600
    access_token_lifetime: int = 3600
    codes: dict[str, dict[str, Any]] = field(default_factory=dict)
    access_tokens: dict[str, float] = field(default_factory=dict)  # token -> expires at (epoch)
    refresh_tokens: set[str] = field(default_factory=set)
    revoked: set[str] = field(default_factory=set)
    events: dict[str, dict[str, Any]] = field(default_factory=dict)  # id -> event (single calendar)
    busy: list[tuple[str, str]] = field(default_factory=list)  # extra busy windows (RFC 3339)
    requests: list[tuple[str, str]] = field(default_factory=list)
    grants: list[str] = field(default_factory=list)  # grant_type of every token request
    identities: dict[str, dict[str, Any]] = field(default_factory=dict)  # access token -> who consented
    signing_key: Any = None
    certificate_pem: str = ""
    key_id: str = ""
    lock: threading.Lock = field(default_factory=threading.Lock)

    # -- test controls ----------------------------------------------------------
    def expire_access_tokens(self) -> None:
        with self.lock:
            for token in self.access_tokens:
                self.access_tokens[token] = 0

    def revoke_all(self) -> None:
        with self.lock:
            self.revoked |= self.refresh_tokens | set(self.access_tokens)
            self.access_tokens.clear()

    def add_busy(self, start: str, end: str) -> None:
        with self.lock:
            self.busy.append((start, end))

    def live_events(self) -> list[dict[str, Any]]:
        with self.lock:
            return [e for e in self.events.values() if e.get("status") != "cancelled"]

    def use_identity(self, email: str, subject: str, *, verified: bool = True, name: str | None = None) -> None:
        """Who the next consent signs in as."""
        with self.lock:
            self.account_email, self.subject, self.email_verified, self.name = email, subject, verified, name

    def __post_init__(self) -> None:
        self.signing_key, self.certificate_pem = _signing_key()
        self.key_id = secrets.token_hex(8)

    def id_token(self, claims: dict[str, Any]) -> str:
        """An RS256 JWT as Google signs them (header kid = the published certificate's key)."""
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import padding

        header = {"alg": "RS256", "kid": self.key_id, "typ": "JWT"}
        signing_input = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}"
        signature = self.signing_key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
        return f"{signing_input}.{_b64(signature)}"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _signing_key():
    """A fresh RSA key and a self-signed certificate for it, PEM (what Google's v1 certs endpoint serves)."""
    from datetime import timedelta

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "fake-google-oauth2")])
    now = datetime.now(timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - timedelta(days=1))
            .not_valid_after(now + timedelta(days=2)).sign(key, hashes.SHA256()))
    return key, cert.public_bytes(serialization.Encoding.PEM).decode()


# Google answers the short scope names with their long forms (oauthlib warns when they differ).
_SCOPE_NAMES = {"email": "https://www.googleapis.com/auth/userinfo.email", "profile": "https://www.googleapis.com/auth/userinfo.profile"}


def _parse_time(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(timezone.utc)


def _error(code: int, message: str, reason: str, status: str) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "errors": [{"message": message, "domain": "global", "reason": reason}], "status": status}}


class _Handler(BaseHTTPRequestHandler):
    server: "_Server"
    protocol_version = "HTTP/1.1"

    def log_message(self, *_args) -> None:  # quiet test output
        pass

    # -- plumbing -----------------------------------------------------------------
    @property
    def st(self) -> FakeGoogleState:
        return self.server.state

    def _send(self, status: int, body: Any = None, headers: dict[str, str] | None = None) -> None:
        data = b"" if body is None else json.dumps(body).encode()
        self.send_response(status)
        if body is not None:
            self.send_header("Content-Type", "application/json; charset=UTF-8")
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _body(self) -> bytes:
        return self._raw

    def _dispatch(self, method: str) -> None:
        self.server.touch()
        # read the whole body first: an early answer (401) must not leave it in a kept-alive connection
        length = int(self.headers.get("Content-Length") or 0)
        self._raw = self.rfile.read(length) if length else b""
        url = urlparse(self.path)
        with self.st.lock:
            self.st.requests.append((method, url.path))
        query = {k: v[-1] for k, v in parse_qs(url.query).items()}
        try:
            if url.path == "/o/oauth2/auth" and method == "GET":
                return self._consent(query)
            if url.path == "/oauth2/v1/certs" and method == "GET":
                return self._send(200, {self.st.key_id: self.st.certificate_pem}, {"Cache-Control": "public, max-age=3600"})
            if url.path == "/oauth2/v3/userinfo" and method == "GET":
                return self._userinfo()
            if url.path == "/token" and method == "POST":
                return self._token(parse_qs(self._body().decode()))
            if url.path == "/revoke" and method == "POST":
                form = parse_qs(self._body().decode())
                token = query.get("token") or (form.get("token") or [""])[0]
                with self.st.lock:
                    self.st.revoked.add(token)
                    self.st.access_tokens.pop(token, None)
                return self._send(200, {})
            if url.path.startswith("/calendar/v3/"):
                if not self._authorized():
                    return self._send(401, _error(401, "Request had invalid authentication credentials.", "authError", "UNAUTHENTICATED"))
                return self._calendar(method, url.path[len("/calendar/v3/"):].split("/"), query)
            return self._send(404, _error(404, "Not Found", "notFound", "NOT_FOUND"))
        except Exception as exc:  # pragma: no cover - surfaces fake bugs as 500s
            return self._send(500, _error(500, repr(exc), "backendError", "INTERNAL"))

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    def do_PUT(self) -> None:
        self._dispatch("PUT")

    # -- OAuth ----------------------------------------------------------------------
    def _consent(self, q: dict[str, str]) -> None:
        if q.get("client_id") != self.st.client_id or q.get("response_type") != "code":
            return self._send(400, {"error": "invalid_request"})
        if self.st.deny_consent:
            target = q["redirect_uri"] + "?" + urlencode({"state": q.get("state", ""), "error": "access_denied"})
            return self._send(302, None, {"Location": target})
        code = "4/" + secrets.token_urlsafe(24)
        scope = " ".join(_SCOPE_NAMES.get(s, s) for s in q.get("scope", "").split())
        with self.st.lock:
            self.st.codes[code] = {
                "redirect_uri": q.get("redirect_uri"), "challenge": q.get("code_challenge"),
                "scope": scope, "access_type": q.get("access_type"), "prompt": q.get("prompt"),
                "nonce": q.get("nonce"), "identity": {
                    "sub": self.st.subject, "email": self.st.account_email,
                    "email_verified": self.st.email_verified, "name": self.st.name,
                },
            }
        target = q["redirect_uri"] + "?" + urlencode({"state": q.get("state", ""), "code": code, "scope": q.get("scope", "")})
        self._send(302, None, {"Location": target})

    def _issue_access_token(self) -> str:
        token = "ya29.fake-" + secrets.token_urlsafe(24)
        self.st.access_tokens[token] = time.time() + self.st.access_token_lifetime
        return token

    def _token(self, form: dict[str, list[str]]) -> None:
        f = {k: v[-1] for k, v in form.items()}
        auth = self.headers.get("Authorization", "")
        if auth.startswith("Basic "):  # client_secret_basic, as requests-oauthlib sends it (Google takes both)
            from urllib.parse import unquote

            cid, _, secret = base64.b64decode(auth[6:]).decode().partition(":")
            f.setdefault("client_id", unquote(cid))
            f.setdefault("client_secret", unquote(secret))
        with self.st.lock:
            self.st.grants.append(f.get("grant_type", ""))
            if f.get("client_id") != self.st.client_id or f.get("client_secret") != self.st.client_secret:
                return self._send(401, {"error": "invalid_client", "error_description": "The OAuth client was not found."})
            if f.get("grant_type") == "authorization_code":
                grant = self.st.codes.pop(f.get("code", ""), None)
                verifier = f.get("code_verifier", "")
                challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).decode().rstrip("=")
                if grant is None or grant["redirect_uri"] != f.get("redirect_uri") or grant["challenge"] != challenge:
                    return self._send(400, {"error": "invalid_grant", "error_description": "Bad Request"})
                refresh = "1//fake-" + secrets.token_urlsafe(24)
                self.st.refresh_tokens.add(refresh)
                who = grant["identity"]
                now = int(time.time())
                claims = {
                    "iss": "https://accounts.google.com", "azp": self.st.client_id, "aud": self.st.client_id,
                    "sub": who["sub"], "email": who["email"], "email_verified": who["email_verified"],
                    "iat": now, "exp": now + self.st.id_token_lifetime,
                }
                if who.get("name"):
                    claims["name"] = who["name"]
                if grant.get("nonce"):
                    claims["nonce"] = grant["nonce"]
                access = self._issue_access_token()
                self.st.identities[access] = who
                return self._send(200, {
                    "access_token": access, "expires_in": self.st.access_token_lifetime,
                    "refresh_token": refresh, "scope": grant["scope"], "token_type": "Bearer",
                    "id_token": self.st.id_token(claims),
                })
            if f.get("grant_type") == "refresh_token":
                refresh = f.get("refresh_token", "")
                if refresh not in self.st.refresh_tokens or refresh in self.st.revoked:
                    return self._send(400, {"error": "invalid_grant", "error_description": "Token has been expired or revoked."})
                return self._send(200, {
                    "access_token": self._issue_access_token(), "expires_in": self.st.access_token_lifetime,
                    "scope": " ".join(sorted(set(f.get("scope", "").split()))) or "https://www.googleapis.com/auth/calendar.events",
                    "token_type": "Bearer",
                })
        return self._send(400, {"error": "unsupported_grant_type"})

    def _userinfo(self) -> None:
        if not self._authorized():
            return self._send(401, {"error": "invalid_request", "error_description": "Invalid Credentials"})
        auth = self.headers.get("Authorization", "")
        with self.st.lock:
            who = self.st.identities.get(auth[7:], {})
        info = {"sub": who.get("sub", self.st.subject), "email": who.get("email", self.st.account_email),
                "email_verified": who.get("email_verified", self.st.email_verified)}
        if who.get("name"):
            info["name"] = who["name"]
        return self._send(200, info)

    def _authorized(self) -> bool:
        auth = self.headers.get("Authorization", "")
        token = auth[7:] if auth.startswith("Bearer ") else ""
        with self.st.lock:
            return self.st.access_tokens.get(token, 0) > time.time() and token not in self.st.revoked

    # -- Calendar v3 -------------------------------------------------------------------
    def _calendar(self, method: str, parts: list[str], q: dict[str, str]) -> None:
        if parts == ["freeBusy"] and method == "POST":
            return self._freebusy(json.loads(self._body() or b"{}"))
        if len(parts) >= 2 and parts[0] == "calendars":
            calendar = self.st.account_email if parts[1] == "primary" else parts[1]
            if calendar != self.st.account_email:
                return self._send(404, _error(404, "Not Found", "notFound", "NOT_FOUND"))
            if len(parts) == 2 and method == "GET":
                return self._send(200, {"kind": "calendar#calendar", "etag": '"1"', "id": calendar, "summary": calendar, "timeZone": "UTC"})
            if len(parts) == 3 and parts[2] == "events":
                return self._list(q) if method == "GET" else self._insert(json.loads(self._body() or b"{}"))
            if len(parts) == 4 and parts[2] == "events":
                return self._one(method, parts[3])
        return self._send(404, _error(404, "Not Found", "notFound", "NOT_FOUND"))

    def _busy_windows(self) -> list[tuple[datetime, datetime]]:
        windows = [(_parse_time(s), _parse_time(e)) for s, e in self.st.busy]
        for ev in self.st.events.values():
            if ev.get("status") != "cancelled" and ev.get("transparency") != "transparent":
                windows.append((_parse_time(ev["start"]["dateTime"]), _parse_time(ev["end"]["dateTime"])))
        return windows

    def _freebusy(self, body: dict[str, Any]) -> None:
        lo, hi = _parse_time(body["timeMin"]), _parse_time(body["timeMax"])
        calendars = {}
        with self.st.lock:
            for item in body.get("items", []):
                cid = item["id"]
                if cid not in ("primary", self.st.account_email):
                    calendars[cid] = {"errors": [{"domain": "global", "reason": "notFound"}], "busy": []}
                    continue
                busy = [(s, e) for s, e in self._busy_windows() if s < hi and e > lo]
                calendars[cid] = {"busy": [{"start": max(s, lo).isoformat().replace("+00:00", "Z"), "end": min(e, hi).isoformat().replace("+00:00", "Z")} for s, e in sorted(busy)]}
        self._send(200, {"kind": "calendar#freeBusy", "timeMin": body["timeMin"], "timeMax": body["timeMax"], "calendars": calendars})

    def _list(self, q: dict[str, str]) -> None:
        with self.st.lock:
            items = [e for e in self.st.events.values() if e.get("status") != "cancelled"]
        if "timeMin" in q:
            items = [e for e in items if _parse_time(e["end"]["dateTime"]) > _parse_time(q["timeMin"])]
        if "timeMax" in q:
            items = [e for e in items if _parse_time(e["start"]["dateTime"]) < _parse_time(q["timeMax"])]
        items.sort(key=lambda e: _parse_time(e["start"]["dateTime"]))
        items = items[: int(q.get("maxResults", 250))]
        self._send(200, {"kind": "calendar#events", "summary": self.st.account_email, "timeZone": "UTC", "items": items})

    def _insert(self, body: dict[str, Any]) -> None:
        event_id = body.get("id") or uuid.uuid4().hex
        with self.st.lock:
            if event_id in self.st.events:
                return self._send(409, _error(409, "The requested identifier already exists.", "duplicate", "ALREADY_EXISTS"))
            now = datetime.now(timezone.utc).isoformat().replace("+00:00", "Z")
            event = {
                "kind": "calendar#event", "etag": '"' + secrets.token_hex(6) + '"', "id": event_id, "status": "confirmed",
                "htmlLink": f"https://www.google.com/calendar/event?eid={event_id}", "created": now, "updated": now,
                "organizer": {"email": self.st.account_email, "self": True}, **body,
            }
            event["id"], event["status"] = event_id, "confirmed"
            self.st.events[event_id] = event
        self._send(200, event)

    def _one(self, method: str, event_id: str) -> None:
        with self.st.lock:
            event = self.st.events.get(event_id)
            if event is None:
                return self._send(404, _error(404, "Not Found", "notFound", "NOT_FOUND"))
            if method == "GET":
                return self._send(200, event)
            if method == "DELETE":
                if event.get("status") == "cancelled":
                    return self._send(410, _error(410, "Resource has been deleted", "deleted", "GONE"))
                event["status"] = "cancelled"
                return self._send(204)
        return self._send(405, _error(405, "Method not allowed", "methodNotAllowed", "METHOD_NOT_ALLOWED"))


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, state: FakeGoogleState, idle_timeout: float, port: int = 0) -> None:
        super().__init__(("127.0.0.1", port), _Handler)
        self.state = state
        self.idle_timeout = idle_timeout
        self.last_request = time.monotonic()

    def touch(self) -> None:
        self.last_request = time.monotonic()

    def service_actions(self) -> None:  # called by serve_forever between polls
        if time.monotonic() - self.last_request > self.idle_timeout:
            threading.Thread(target=self.shutdown, daemon=True).start()


class FakeGoogle:
    """Start with ``with FakeGoogle() as google:`` (or ``start()``/``stop()``)."""

    def __init__(self, *, port: int = 0, idle_timeout: float = 300.0, **state: Any) -> None:
        self.state = FakeGoogleState(**state)
        self._server = _Server(self.state, idle_timeout, port)
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True)

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def settings_env(self) -> dict[str, str]:
        """Environment variables that point our settings (and so the real clients) here."""
        return {
            "GOOGLE_CLIENT_ID": self.state.client_id,
            "GOOGLE_CLIENT_SECRET": self.state.client_secret,
            "GOOGLE_AUTH_URI": f"{self.base_url}/o/oauth2/auth",
            "GOOGLE_TOKEN_URI": f"{self.base_url}/token",
            "GOOGLE_REVOKE_URI": f"{self.base_url}/revoke",
            "GOOGLE_CERTS_URI": f"{self.base_url}/oauth2/v1/certs",
            "GOOGLE_CALENDAR_API_ENDPOINT": f"{self.base_url}/calendar/v3/",
        }

    def start(self) -> "FakeGoogle":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> "FakeGoogle":
        return self.start()

    def __exit__(self, *_exc) -> None:
        self.stop()


def main() -> None:  # pragma: no cover - used by browser tests in a subprocess
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--idle-timeout", type=float, default=600.0)
    parser.add_argument("--account", default="owner@example.com")
    args = parser.parse_args()
    fake = FakeGoogle(port=args.port, idle_timeout=args.idle_timeout, account_email=args.account)
    print(json.dumps(fake.settings_env()), flush=True)
    fake._server.serve_forever(poll_interval=0.2)


if __name__ == "__main__":  # pragma: no cover
    main()
