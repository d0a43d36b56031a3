"""Outbound calls on the fake Twilio: ``Calls.json`` create, and playing a call as Twilio would.

``CallPlayer`` is mixed into ``tests.fakes.twilio_rest.FakeTwilio``. A call placed through the
real twilio Client (``POST /Accounts/{AC}/Calls.json``) is answered as Twilio does: a call
resource with status ``queued``, the request's parameters kept (``placed()``), repeated ones
(``StatusCallbackEvent``) as lists. Then a test (or a bench) plays it: each step POSTs what
Twilio posts to the URL the platform gave for it, form-encoded and signed with twilio's own
``RequestValidator`` over that exact URL (the platform's public URL, query included), delivered
either through an ASGI ``TestClient`` (``via=client``: the URL's path and query) or to a server
(``via="http://127.0.0.1:PORT"``: the same path and query there).

- ``answer(sid, via)``: the callee picked up: the ``answered`` status callback, then ``Url``
  (the answer webhook; its TwiML is kept as ``placed()[...]["answer_twiml"]``);
- ``machine(sid, answered_by, via)``: the asynchronous AMD result;
- ``status(sid, status, via)``: a status callback (``completed`` carries ``CallDuration``);
- ``play(sid, via, outcome=...)``: the whole call: ringing, then answered and ended, or
  no-answer / busy / failed;
- ``auto_play(via, ...)``: every call created from now on is played on a thread of its own
  after a random delay (the campaign bench's Twilio).
"""

from __future__ import annotations

import random
import threading
import time
import uuid
from dataclasses import dataclass
from email.utils import formatdate
from typing import Any
from urllib.parse import urlencode, urlsplit

API = "/2010-04-01"


@dataclass(frozen=True)
class Delivered:
    status_code: int
    text: str


def _sign_and_post(auth_token: str, url: str, params: dict[str, str], via: Any) -> Delivered:
    from twilio.request_validator import RequestValidator

    signature = RequestValidator(auth_token).compute_signature(url, params)
    parts = urlsplit(url)
    target = parts.path + (f"?{parts.query}" if parts.query else "")
    headers = {"Content-Type": "application/x-www-form-urlencoded", "X-Twilio-Signature": signature}
    body = urlencode(params)
    if isinstance(via, str):
        import httpx

        response = httpx.post(via.rstrip("/") + target, content=body, headers=headers, timeout=30)
    else:
        response = via.post(target, content=body, headers=headers)
    return Delivered(response.status_code, response.text)


class CallPlayer:
    """What FakeTwilio knows of outbound calls (expects ``calls``, ``lock``, ``account_sid``,
    ``auth_token`` from FakeTwilio)."""

    calls: dict[str, dict[str, Any]]
    lock: threading.Lock
    account_sid: str
    auth_token: str

    def _init_calls(self) -> None:
        self.outbound: dict[str, dict[str, Any]] = {}  # CA sid -> what calls.create was given, and what happened
        self.on_created = None  # (sid) -> None, called on a thread after each create

    # -- the REST side ------------------------------------------------------------------
    def _create_call(self, form: dict[str, str], lists: dict[str, list[str]]) -> tuple[int, Any]:
        if not form.get("To") or not form.get("From"):
            return 400, {"code": 21201, "message": "No 'To' or 'From' number is specified", "more_info": "",
                         "status": 400}
        if not form.get("Url") and not form.get("Twiml"):
            return 400, {"code": 21205, "message": "Url parameter is required.", "more_info": "", "status": 400}
        sid = "CA" + uuid.uuid4().hex
        now = formatdate(usegmt=True).replace("GMT", "+0000")
        call = {
            "sid": sid, "account_sid": self.account_sid, "to": form["To"], "to_formatted": form["To"],
            "from": form["From"], "from_formatted": form["From"], "status": "queued", "direction": "outbound-api",
            "api_version": "2010-04-01", "date_created": now, "date_updated": now, "start_time": None,
            "end_time": None, "duration": None, "price": None, "price_unit": "USD", "answered_by": None,
            "caller_name": None, "forwarded_from": None, "group_sid": None, "parent_call_sid": None,
            "phone_number_sid": None, "queue_time": "0", "trunk_sid": None,
            "uri": f"{API}/Accounts/{self.account_sid}/Calls/{sid}.json",
            "subresource_uris": {"recordings": f"{API}/Accounts/{self.account_sid}/Calls/{sid}/Recordings.json"},
        }
        self.calls[sid] = call
        self.outbound[sid] = {"sid": sid, "form": dict(form), "events": lists.get("StatusCallbackEvent", []),
                              "answer_twiml": None, "updates": [], "delivered": []}
        if self.on_created is not None:
            threading.Thread(target=self.on_created, args=(sid,), daemon=True).start()
        return 201, call

    def placed(self) -> list[dict[str, Any]]:
        """The calls created, oldest first: ``form`` (what calls.create sent), ``events``, ``answer_twiml``,
        ``updates`` (TwiML given later through Calls(sid).update)."""
        with self.lock:
            return list(self.outbound.values())

    def _updated(self, sid: str, twiml: str) -> None:
        if sid in self.outbound:
            self.outbound[sid]["updates"].append(twiml)

    # -- playing a call ---------------------------------------------------------------
    def _params(self, sid: str, **extra: str) -> dict[str, str]:
        call = self.calls[sid]
        return {"AccountSid": self.account_sid, "ApiVersion": "2010-04-01", "CallSid": sid, "Direction": "outbound-api",
                "From": call["from"], "Caller": call["from"], "To": call["to"], "Called": call["to"], **extra}

    def _post(self, sid: str, url_key: str, params: dict[str, str], via: Any) -> Delivered | None:
        url = self.outbound[sid]["form"].get(url_key)
        if not url:
            return None
        delivered = _sign_and_post(self.auth_token, url, params, via)
        with self.lock:
            self.outbound[sid]["delivered"].append((url_key, params.get("CallStatus") or params.get("AnsweredBy"),
                                                    delivered.status_code))
        return delivered

    def status(self, sid: str, call_status: str, via: Any, *, duration: int | None = None) -> Delivered | None:
        """A status callback for ``call_status`` (initiated, ringing, in-progress, completed, busy,
        no-answer, failed, canceled), sent when its event was asked for, as Twilio does (the final
        statuses come with the ``completed`` event)."""
        event = {"in-progress": "answered", "queued": "initiated"}.get(call_status, call_status)
        if event in ("busy", "no-answer", "failed", "canceled"):
            event = "completed"
        self.calls[sid]["status"] = call_status
        if event not in self.outbound[sid]["events"]:
            return None
        extra = {"CallStatus": call_status, "CallbackSource": "call-progress-events", "Timestamp": formatdate(usegmt=True)}
        if event == "completed":
            extra.update(CallDuration=str(duration or 0), Duration=str(max(1, -(-(duration or 0) // 60))))
        return self._post(sid, "StatusCallback", self._params(sid, **extra), via)

    def answer(self, sid: str, via: Any) -> Delivered:
        """The callee picked up: ``answered``, then the call's ``Url`` (our answer webhook)."""
        self.status(sid, "in-progress", via)
        delivered = self._post(sid, "Url", self._params(sid, CallStatus="in-progress"), via)
        assert delivered is not None, "the call was created without a Url"
        with self.lock:
            self.outbound[sid]["answer_twiml"] = delivered.text
        return delivered

    def machine(self, sid: str, answered_by: str, via: Any, *, duration_ms: int = 4200) -> Delivered | None:
        """The asynchronous answering-machine detection's result (human, machine_end_beep, ...)."""
        self.calls[sid]["answered_by"] = answered_by
        params = {"AccountSid": self.account_sid, "CallSid": sid, "AnsweredBy": answered_by,
                  "MachineDetectionDuration": str(duration_ms)}
        return self._post(sid, "AsyncAmdStatusCallback", params, via)

    def play(self, sid: str, via: Any, *, outcome: str = "completed", answered_by: str | None = None,
             duration: int = 30) -> None:
        """A whole call: initiated and ringing, then either answered (the answer webhook, the AMD
        result when ``answered_by`` is given) and ended after ``duration`` seconds, or ``outcome``
        (no-answer, busy, failed) without an answer."""
        self.status(sid, "initiated", via)
        self.status(sid, "ringing", via)
        if outcome != "completed":
            self.status(sid, outcome, via)
            return
        self.answer(sid, via)
        if answered_by:
            self.machine(sid, answered_by, via)
        self.status(sid, "completed", via, duration=duration)

    def auto_play(self, via: Any, *, delay: tuple[float, float] = (0.5, 2.0), outcome: str = "completed",
                  duration: int = 30) -> None:
        """Play every call created from now on after a random ``delay`` (seconds), on its own thread."""
        def play_later(sid: str) -> None:
            time.sleep(random.uniform(*delay))
            try:
                self.play(sid, via, outcome=outcome, duration=duration)
            except Exception as exc:  # noqa: BLE001 - kept for the test to see
                with self.lock:
                    self.outbound[sid]["error"] = repr(exc)

        self.on_created = play_later
