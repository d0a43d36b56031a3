"""A fake Twilio REST server for the Calls resource, on 127.0.0.1, for the real twilio Client.

Speaks what ``client.calls(sid).update(twiml=...)`` needs: form-encoded POST to
``/2010-04-01/Accounts/{AccountSid}/Calls/{CallSid}.json`` with HTTP Basic auth
(account SID + auth token), answered with Twilio's Call JSON, or Twilio's error JSON
(401 code 20003, 404 code 20404). ``http_client()`` gives a ``TwilioHttpClient`` that
sends https://api.twilio.com requests here instead.
"""

from __future__ import annotations

import base64
import json
import re
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

from twilio.http.http_client import TwilioHttpClient

CALL_PATH = re.compile(r"^/2010-04-01/Accounts/(AC\w+)/Calls/(CA\w+)\.json$")


@dataclass
class FakeTwilioCalls:
    account_sid: str
    auth_token: str
    calls: dict[str, dict] = field(default_factory=dict)  # CallSid -> Call resource
    requests: list[dict] = field(default_factory=list)
    fail_with: int | None = None  # answer every request with this status (a Twilio outage)
    hang: threading.Event | None = None  # hold every request until set (a hanging Twilio)

    def add_call(self, call_sid: str, from_: str = "+15550001111", to: str = "+14155550000") -> None:
        self.calls[call_sid] = {"sid": call_sid, "account_sid": self.account_sid, "from": from_, "to": to,
                                "status": "in-progress", "direction": "inbound", "api_version": "2010-04-01",
                                "uri": f"/2010-04-01/Accounts/{self.account_sid}/Calls/{call_sid}.json"}

    def __enter__(self) -> "FakeTwilioCalls":
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
                form = {k: v[0] for k, v in parse_qs(body, keep_blank_values=True).items()}
                fake.requests.append({"path": self.path, "form": form, "auth": self.headers.get("Authorization")})
                if fake.hang is not None:
                    fake.hang.wait(30)
                if fake.fail_with:
                    return self._json(fake.fail_with, {"code": 20500, "message": "Internal Server Error",
                                                       "more_info": "https://www.twilio.com/docs/errors/20500",
                                                       "status": fake.fail_with})
                expected = "Basic " + base64.b64encode(f"{fake.account_sid}:{fake.auth_token}".encode()).decode()
                if self.headers.get("Authorization") != expected:
                    return self._json(401, {"code": 20003, "message": "Authenticate",
                                            "more_info": "https://www.twilio.com/docs/errors/20003", "status": 401})
                match = CALL_PATH.match(self.path)
                if not match or match.group(1) != fake.account_sid or match.group(2) not in fake.calls:
                    return self._json(404, {"code": 20404, "message": f"The requested resource {self.path} was not found",
                                            "more_info": "https://www.twilio.com/docs/errors/20404", "status": 404})
                call = fake.calls[match.group(2)]
                if "Twiml" in form:
                    call["twiml"] = form["Twiml"]
                if "Status" in form:
                    call["status"] = form["Status"]
                return self._json(200, call)

            def _json(self, status: int, payload: dict) -> None:
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *_args) -> None:
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        self.base_url = f"http://127.0.0.1:{self._server.server_address[1]}"
        return self

    def __exit__(self, *_exc) -> None:
        if self.hang is not None:
            self.hang.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)

    def http_client(self, timeout: float = 5.0) -> TwilioHttpClient:
        base = self.base_url

        class ToFake(TwilioHttpClient):
            def request(self, method, url, *args, **kwargs):
                return super().request(method, url.replace("https://api.twilio.com", base, 1), *args, **kwargs)

        return ToFake(timeout=timeout)
