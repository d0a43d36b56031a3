"""Worker test pieces: an agent with a number, the webhook's pending session, and real LiveKit types.

The participant is livekit's own ``RemoteParticipant`` built from the protobuf the FFI
layer would hand the SDK (handle 0 owns nothing native), and the room is a real
``rtc.Room``: late attributes are delivered the way ``Room`` itself does it — update
the participant's info, then emit ``participant_attributes_changed``.
"""

from __future__ import annotations

import ipaddress
import socket
import uuid
from dataclasses import dataclass

import pytest

from tests.support.api import create_agent, signup, unique_phone


@pytest.fixture(autouse=True)
def _loopback_only(monkeypatch):
    """Fail any test of the worker that opens a connection leaving 127.0.0.1 (a real Gemini, Twilio...)."""
    real_connect, real_connect_ex = socket.socket.connect, socket.socket.connect_ex

    def check(sock, address) -> None:
        if sock.family in (socket.AF_INET, socket.AF_INET6):
            host = address[0]
            try:
                local = host == "localhost" or ipaddress.ip_address(host).is_loopback
            except ValueError:
                local = False
            if not local:
                raise AssertionError(f"a worker test tried to reach {host}: only 127.0.0.1 is allowed")

    def connect(sock, address):
        check(sock, address)
        return real_connect(sock, address)

    def connect_ex(sock, address):
        check(sock, address)
        return real_connect_ex(sock, address)

    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket.socket, "connect_ex", connect_ex)


@dataclass
class PhoneAgent:
    id: uuid.UUID
    org_id: uuid.UUID
    number: str


@pytest.fixture()
def phone_agent(client) -> PhoneAgent:
    admin = signup(client, "worker")
    number = unique_phone()
    agent = create_agent(client, admin, phone_number=number, greeting="Hello, this is the front desk.")
    return PhoneAgent(id=uuid.UUID(agent["id"]), org_id=uuid.UUID(admin.org_id), number=number)


def open_webhook_session(number: str, call_sid: str | None = None) -> uuid.UUID:
    """What the incoming webhook does before Twilio dials LiveKit: a pending session."""
    from voice_platform.db import session_scope
    from voice_platform.services import calls

    with session_scope() as session:
        routed = calls.open_phone_session(
            session, call_sid=call_sid or "CA" + uuid.uuid4().hex, from_number="+15550001111", to_number=number
        )
    assert routed.session_id is not None, routed.refusal
    return routed.session_id


def sip_participant(attributes: dict[str, str], identity: str = "sip_+15550001111"):
    from livekit import rtc
    from livekit.rtc._proto import handle_pb2, participant_pb2

    info = participant_pb2.ParticipantInfo(
        identity=identity, kind=rtc.ParticipantKind.PARTICIPANT_KIND_SIP, attributes=attributes
    )
    return rtc.RemoteParticipant(participant_pb2.OwnedParticipant(info=info, handle=handle_pb2.FfiOwnedHandle(id=0)))


def deliver_attributes(room, participant, changed: dict[str, str]) -> None:
    """Exactly what ``rtc.Room`` does on a participant_attributes_changed FFI event."""
    participant._info.attributes.update(changed)
    room.emit("participant_attributes_changed", changed, participant)


def load_call(session_id: uuid.UUID):
    from voice_platform.db import session_scope
    from voice_platform.services import calls

    with session_scope() as session:
        return calls.get_call(session, session_id)
