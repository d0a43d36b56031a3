"""A fake LiveKit SIP API on 127.0.0.1 that speaks Twirp the way livekit-server does.

livekit-api's real ``SipService`` talks to it when ``LIVEKIT_URL`` points here:
``POST /twirp/livekit.SIP/<Method>`` with ``Content-Type: application/protobuf``, a
protobuf body, and ``Authorization: Bearer <JWT>`` signed HS256 with the API secret
(``iss`` = API key, ``sip.admin`` granted). Answers are protobuf; errors are Twirp's JSON
``{"code", "msg"}`` with the matching HTTP status. Inbound trunks and dispatch rules live in
memory with generated ``ST_``/``SDR_`` ids, and the conflicts livekit-server refuses (a
number on two inbound trunks, two rules on one trunk with the same PIN) are refused here
too, so a setup that would duplicate objects fails its test the way it would fail live.

The server stops by itself after ``idle_timeout`` seconds without a request, so a
forgotten one never outlives its test run. Use ``with FakeLiveKit() as livekit:``.
"""

from __future__ import annotations

import json
import secrets
import string
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from google.protobuf.message import DecodeError, Message
from google.protobuf.timestamp_pb2 import Timestamp
from jose import JWTError, jwt
from livekit.protocol import models, sip

PREFIX = "/twirp/livekit.SIP/"
STATUS = {
    "invalid_argument": 400, "malformed": 400, "unauthenticated": 401, "permission_denied": 403,
    "not_found": 404, "bad_route": 404, "already_exists": 409, "internal": 500,
}


class TwirpFailure(Exception):
    def __init__(self, code: str, msg: str) -> None:
        super().__init__(msg)
        self.code, self.msg = code, msg


@dataclass
class FakeLiveKitState:
    api_key: str = "APIfakekey"
    api_secret: str = "fake-livekit-secret-" + "s" * 32
    trunks: dict[str, sip.SIPInboundTrunkInfo] = field(default_factory=dict)
    rules: dict[str, sip.SIPDispatchRuleInfo] = field(default_factory=dict)
    calls: list[str] = field(default_factory=list)  # Twirp method of every authorized request
    refused: list[str] = field(default_factory=list)  # ... and of every request refused at the door
    lock: threading.Lock = field(default_factory=threading.Lock)

    def inbound_trunks(self) -> list[sip.SIPInboundTrunkInfo]:
        with self.lock:
            return [_copy(t) for t in self.trunks.values()]

    def dispatch_rules(self) -> list[sip.SIPDispatchRuleInfo]:
        with self.lock:
            return [_copy(r) for r in self.rules.values()]

    def writes(self) -> list[str]:
        """The authorized requests that changed something (Create/Update/Delete)."""
        with self.lock:
            return [c for c in self.calls if not c.startswith(("List", "Get"))]


def _copy(msg: Message) -> Any:
    clone = type(msg)()
    clone.CopyFrom(msg)
    return clone


def _new_id(prefix: str) -> str:
    return prefix + "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(12))


def _now() -> Timestamp:
    stamp = Timestamp()
    stamp.GetCurrentTime()
    return stamp


def _apply_list_update(target: Any, update: models.ListUpdate) -> None:
    values = [] if update.clear else list(target)
    if update.set:
        values = list(update.set)
    values = [v for v in values if v not in set(update.remove)]
    values += [v for v in update.add if v not in values]
    del target[:]
    target.extend(values)


# -- the SIP service -------------------------------------------------------------------------

class _Sip:
    """Twirp methods of ``livekit.SIP``; callers hold ``state.lock``."""

    def __init__(self, state: FakeLiveKitState) -> None:
        self.st = state

    def _check_trunk(self, trunk: sip.SIPInboundTrunkInfo) -> None:
        mine = set(trunk.numbers) or {"*"}
        for other in self.st.trunks.values():
            if other.sip_trunk_id == trunk.sip_trunk_id:
                continue
            shared = mine & (set(other.numbers) or {"*"})
            if shared and set(trunk.allowed_addresses) == set(other.allowed_addresses):  # nothing tells them apart
                raise TwirpFailure("invalid_argument", f"Conflicting inbound SIP Trunks: {other.sip_trunk_id!r} and {trunk.sip_trunk_id!r}, number(s) {sorted(shared)}")

    def _check_rule(self, rule: sip.SIPDispatchRuleInfo) -> None:
        kind = rule.rule.WhichOneof("rule")
        if kind is None:
            raise TwirpFailure("invalid_argument", "dispatch rule type must be set")
        for trunk_id in rule.trunk_ids:
            if trunk_id not in self.st.trunks:
                raise TwirpFailure("invalid_argument", f"unknown SIP trunk {trunk_id!r}")
        pin = getattr(rule.rule, kind).pin
        mine = set(rule.trunk_ids) or {"*"}
        for other in self.st.rules.values():
            if other.sip_dispatch_rule_id == rule.sip_dispatch_rule_id:
                continue
            other_kind = other.rule.WhichOneof("rule")
            other_pin = getattr(other.rule, other_kind).pin if other_kind else ""
            theirs = set(other.trunk_ids) or {"*"}
            if other_pin == pin and (mine & theirs or "*" in mine or "*" in theirs):
                raise TwirpFailure("invalid_argument", f"Conflicting SIP Dispatch Rules: same Trunk+Number+PIN combination for {other.sip_dispatch_rule_id!r}")

    # trunks
    def ListSIPInboundTrunk(self, req: sip.ListSIPInboundTrunkRequest) -> sip.ListSIPInboundTrunkResponse:
        items = [t for t in self.st.trunks.values()
                 if (not req.trunk_ids or t.sip_trunk_id in req.trunk_ids)
                 and (not req.numbers or set(req.numbers) & set(t.numbers))]
        return sip.ListSIPInboundTrunkResponse(items=items)

    def CreateSIPInboundTrunk(self, req: sip.CreateSIPInboundTrunkRequest) -> sip.SIPInboundTrunkInfo:
        if req.trunk.sip_trunk_id:
            raise TwirpFailure("invalid_argument", "trunk ID must not be set")
        trunk = _copy(req.trunk)
        trunk.sip_trunk_id = _new_id("ST_")
        self._check_trunk(trunk)
        trunk.created_at.CopyFrom(_now())
        trunk.updated_at.CopyFrom(_now())
        self.st.trunks[trunk.sip_trunk_id] = trunk
        return trunk

    def UpdateSIPInboundTrunk(self, req: sip.UpdateSIPInboundTrunkRequest) -> sip.SIPInboundTrunkInfo:
        current = self.st.trunks.get(req.sip_trunk_id)
        if current is None:
            raise TwirpFailure("not_found", f"SIP trunk {req.sip_trunk_id!r} not found")
        action = req.WhichOneof("action")
        if action == "replace":
            trunk = _copy(req.replace)
        elif action == "update":
            trunk, update = _copy(current), req.update
            for name in ("numbers", "allowed_addresses", "allowed_numbers"):
                if update.HasField(name):
                    _apply_list_update(getattr(trunk, name), getattr(update, name))
            for name in ("auth_username", "auth_password", "auth_realm", "name", "metadata"):
                if update.HasField(name):
                    setattr(trunk, name, getattr(update, name))
        else:
            raise TwirpFailure("invalid_argument", "either replace or update must be set")
        trunk.sip_trunk_id = current.sip_trunk_id
        self._check_trunk(trunk)
        trunk.created_at.CopyFrom(current.created_at)
        trunk.updated_at.CopyFrom(_now())
        self.st.trunks[trunk.sip_trunk_id] = trunk
        return trunk

    def DeleteSIPTrunk(self, req: sip.DeleteSIPTrunkRequest) -> sip.SIPTrunkInfo:
        trunk = self.st.trunks.pop(req.sip_trunk_id, None)
        if trunk is None:
            raise TwirpFailure("not_found", f"SIP trunk {req.sip_trunk_id!r} not found")
        return sip.SIPTrunkInfo(sip_trunk_id=trunk.sip_trunk_id, kind=sip.SIPTrunkInfo.TRUNK_INBOUND, name=trunk.name)

    # dispatch rules
    def ListSIPDispatchRule(self, req: sip.ListSIPDispatchRuleRequest) -> sip.ListSIPDispatchRuleResponse:
        items = [r for r in self.st.rules.values()
                 if (not req.dispatch_rule_ids or r.sip_dispatch_rule_id in req.dispatch_rule_ids)
                 and (not req.trunk_ids or set(req.trunk_ids) & set(r.trunk_ids))]
        return sip.ListSIPDispatchRuleResponse(items=items)

    def CreateSIPDispatchRule(self, req: sip.CreateSIPDispatchRuleRequest) -> sip.SIPDispatchRuleInfo:
        if req.HasField("dispatch_rule"):
            rule = _copy(req.dispatch_rule)
        else:  # the deprecated flat shape
            rule = sip.SIPDispatchRuleInfo(
                rule=req.rule, trunk_ids=req.trunk_ids, hide_phone_number=req.hide_phone_number,
                inbound_numbers=req.inbound_numbers, name=req.name, metadata=req.metadata,
                attributes=req.attributes, room_preset=req.room_preset, room_config=req.room_config,
            )
        if rule.sip_dispatch_rule_id:
            raise TwirpFailure("invalid_argument", "rule ID must not be set")
        rule.sip_dispatch_rule_id = _new_id("SDR_")
        self._check_rule(rule)
        rule.created_at.CopyFrom(_now())
        rule.updated_at.CopyFrom(_now())
        self.st.rules[rule.sip_dispatch_rule_id] = rule
        return rule

    def UpdateSIPDispatchRule(self, req: sip.UpdateSIPDispatchRuleRequest) -> sip.SIPDispatchRuleInfo:
        current = self.st.rules.get(req.sip_dispatch_rule_id)
        if current is None:
            raise TwirpFailure("not_found", f"SIP dispatch rule {req.sip_dispatch_rule_id!r} not found")
        action = req.WhichOneof("action")
        if action == "replace":
            rule = _copy(req.replace)
        elif action == "update":
            rule, update = _copy(current), req.update
            if update.HasField("trunk_ids"):
                _apply_list_update(rule.trunk_ids, update.trunk_ids)
            if update.HasField("rule"):
                rule.rule.CopyFrom(update.rule)
            for name in ("name", "metadata"):
                if update.HasField(name):
                    setattr(rule, name, getattr(update, name))
            rule.attributes.update(update.attributes)
        else:
            raise TwirpFailure("invalid_argument", "either replace or update must be set")
        rule.sip_dispatch_rule_id = current.sip_dispatch_rule_id
        self._check_rule(rule)
        rule.created_at.CopyFrom(current.created_at)
        rule.updated_at.CopyFrom(_now())
        self.st.rules[rule.sip_dispatch_rule_id] = rule
        return rule

    def DeleteSIPDispatchRule(self, req: sip.DeleteSIPDispatchRuleRequest) -> sip.SIPDispatchRuleInfo:
        rule = self.st.rules.pop(req.sip_dispatch_rule_id, None)
        if rule is None:
            raise TwirpFailure("not_found", f"SIP dispatch rule {req.sip_dispatch_rule_id!r} not found")
        return rule


REQUESTS: dict[str, type[Message]] = {
    "ListSIPInboundTrunk": sip.ListSIPInboundTrunkRequest,
    "CreateSIPInboundTrunk": sip.CreateSIPInboundTrunkRequest,
    "UpdateSIPInboundTrunk": sip.UpdateSIPInboundTrunkRequest,
    "DeleteSIPTrunk": sip.DeleteSIPTrunkRequest,
    "ListSIPDispatchRule": sip.ListSIPDispatchRuleRequest,
    "CreateSIPDispatchRule": sip.CreateSIPDispatchRuleRequest,
    "UpdateSIPDispatchRule": sip.UpdateSIPDispatchRuleRequest,
    "DeleteSIPDispatchRule": sip.DeleteSIPDispatchRuleRequest,
}


# -- HTTP plumbing -------------------------------------------------------------------------

class _Handler(BaseHTTPRequestHandler):
    server: "_Server"
    protocol_version = "HTTP/1.1"
    timeout = 5  # an idle kept-alive connection is closed, so no handler thread lingers

    def log_message(self, *_args) -> None:  # quiet test output
        pass

    def _send(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _fail(self, failure: TwirpFailure) -> None:
        body = json.dumps({"code": failure.code, "msg": failure.msg}).encode()
        self._send(STATUS.get(failure.code, 500), body, "application/json")

    def do_GET(self) -> None:
        self.server.touch()
        self._fail(TwirpFailure("bad_route", f"no handler for GET {self.path}"))

    def do_POST(self) -> None:
        self.server.touch()
        # read the whole body first: an early refusal must not leave it in a kept-alive connection
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        state = self.server.state
        method = self.path[len(PREFIX):] if self.path.startswith(PREFIX) else ""
        try:
            request_class = REQUESTS.get(method)
            if request_class is None:
                raise TwirpFailure("bad_route", f"no handler for path {self.path!r}")
            if self.headers.get("Content-Type", "").split(";")[0].strip() != "application/protobuf":
                raise TwirpFailure("bad_route", f"unexpected Content-Type: {self.headers.get('Content-Type')!r}")
            try:
                self._authorize(state)
            except TwirpFailure:
                with state.lock:
                    state.refused.append(method)
                raise
            try:
                request = request_class.FromString(raw)
            except DecodeError as exc:
                raise TwirpFailure("malformed", f"failed to parse request proto: {exc}") from exc
            handler: Callable[[Any], Message] = getattr(_Sip(state), method)
            with state.lock:
                state.calls.append(method)
                answer = handler(request)
                body = answer.SerializeToString()
            self._send(200, body, "application/protobuf")
        except TwirpFailure as failure:
            self._fail(failure)
        except Exception as exc:  # pragma: no cover - surfaces fake bugs as Twirp internal errors
            self._fail(TwirpFailure("internal", repr(exc)))

    def _authorize(self, state: FakeLiveKitState) -> None:
        auth = self.headers.get("Authorization", "")
        if not auth.startswith("Bearer "):
            raise TwirpFailure("unauthenticated", "no authorization header")
        try:
            claims = jwt.decode(auth[7:], state.api_secret, algorithms=["HS256"])
        except JWTError as exc:
            raise TwirpFailure("unauthenticated", f"invalid token: {exc}") from exc
        if claims.get("iss") != state.api_key:
            raise TwirpFailure("unauthenticated", "invalid API key")
        if not (claims.get("sip") or {}).get("admin"):
            raise TwirpFailure("permission_denied", "permissions denied: SIP admin grant required")


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, state: FakeLiveKitState, idle_timeout: float) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.state = state
        self.idle_timeout = idle_timeout
        self.last_request = time.monotonic()

    def touch(self) -> None:
        self.last_request = time.monotonic()

    def service_actions(self) -> None:  # called by serve_forever between polls
        if time.monotonic() - self.last_request > self.idle_timeout:
            threading.Thread(target=self.shutdown, daemon=True).start()


class FakeLiveKit:
    """``with FakeLiveKit() as livekit:`` — a started server that always stops on exit."""

    def __init__(self, *, idle_timeout: float = 300.0, **state: Any) -> None:
        self.state = FakeLiveKitState(**state)
        self._server = _Server(self.state, idle_timeout)
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.1},
                                        name="fake-livekit", daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def settings_env(self) -> dict[str, str]:
        """Environment variables that point our settings (and so livekit-api) here."""
        return {"LIVEKIT_URL": self.url, "LIVEKIT_API_KEY": self.state.api_key, "LIVEKIT_API_SECRET": self.state.api_secret}

    def start(self) -> "FakeLiveKit":
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._thread.is_alive():  # shutdown() would wait forever for a loop that never ran
            self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> "FakeLiveKit":
        return self.start()

    def __exit__(self, *_exc) -> None:
        self.stop()
