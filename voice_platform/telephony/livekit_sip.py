"""LiveKit's half of an inbound call: one SIP trunk for the platform's numbers, one dispatch rule.

Why this exists: Twilio bridges every call to ``sip:NUMBER@LIVEKIT_SIP_DOMAIN`` with an
``X-Vp-Session`` header. LiveKit takes that INVITE only through an inbound trunk that lists
the dialed number and checks the digest credentials Twilio presents; the trunk turns the
header into the participant attribute the worker reads, and the dispatch rule — not our
backend — creates the call's room and dispatches our worker by its agent name. So the
trunk's numbers must follow the database: ``make livekit-setup`` (``voice_platform.cli``)
installs both objects, and the number inventory (``services.number_inventory``) calls
``sync_numbers_if_configured`` after a number comes or goes. Both read the numbers and pass
them in: this adapter talks to LiveKit only, never to the database.

Both objects are found by name and updated in place, so running it again creates nothing
new; fields we do not manage (allowed addresses, Krisp, media settings an operator set in
LiveKit's console) are kept. ``plan_trunk``/``plan_rule`` compute what to do without any
I/O; ``apply`` talks to LiveKit. ``livekit`` is imported inside functions: the worker and
the dashboard import this module's constants, and services must not pull livekit in.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from voice_platform.settings import Settings, get_settings
from voice_platform.telephony.twiml import RESUME_HEADER, SESSION_HEADER

if TYPE_CHECKING:  # pragma: no cover
    from livekit.protocol.sip import SIPDispatchRuleInfo, SIPInboundTrunkInfo

log = logging.getLogger(__name__)

# The SIP header our Twilio webhook adds and the attribute the trunk maps it to;
# worker/identify.py reads the attribute.
SESSION_ATTRIBUTE = "vp.session"
RESUME_ATTRIBUTE = "vp.resume"  # a warm transfer's return to the agent (twiml.RESUME_HEADER)

TRUNK_NAME = "voice-platform inbound"
RULE_NAME = "voice-platform dispatch"

REQUEST_TIMEOUT_SECONDS = 10.0  # one HTTP request to LiveKit
SETUP_TIMEOUT_SECONDS = 30.0  # a whole `make livekit-setup` run (four requests)
SYNC_TIMEOUT_SECONDS = 10.0  # a whole sync after a number changed (on the number inventory's background thread)

API_SETTINGS = ("LIVEKIT_URL", "LIVEKIT_API_KEY", "LIVEKIT_API_SECRET")
REQUIRED_SETTINGS = API_SETTINGS + ("LIVEKIT_SIP_USERNAME", "LIVEKIT_SIP_PASSWORD")

Action = Literal["created", "updated", "unchanged"]


class LiveKitSetupError(Exception):
    """LiveKit was unreachable, too slow, or refused; the message is written for a person."""


@dataclass(frozen=True)
class SipTarget:
    """What LiveKit should hold for this platform."""

    numbers: tuple[str, ...]
    auth_username: str
    auth_password: str
    room_prefix: str
    agent_name: str
    trunk_name: str = TRUNK_NAME
    rule_name: str = RULE_NAME

    @classmethod
    def from_settings(cls, settings: Settings, numbers: Iterable[str]) -> "SipTarget":
        return cls(
            numbers=tuple(sorted(set(numbers))),
            auth_username=settings.livekit_sip_username or "",
            auth_password=settings.livekit_sip_password or "",
            room_prefix=settings.livekit_room_prefix,
            agent_name=settings.livekit_agent_name,
        )


@dataclass(frozen=True)
class Step:
    """One object's fate: ``info`` is what to send (create/update), or the current one."""

    action: Action
    object_id: str | None  # None only when the object is still to be created
    info: Any


@dataclass(frozen=True)
class SetupResult:
    trunk_id: str
    trunk_action: Action
    numbers: tuple[str, ...]
    rule_id: str
    rule_action: Action

    def summary(self) -> str:
        lines = [
            f'inbound trunk {self.trunk_id}: {self.trunk_action} ({len(self.numbers)} number(s))',
            f'dispatch rule {self.rule_id}: {self.rule_action}',
        ]
        if not self.numbers:
            lines.append("note: no phone numbers yet; LiveKit lets a trunk without numbers take any dialed number")
        return "\n".join(lines)


# -- settings -----------------------------------------------------------------------------

def missing_settings(settings: Settings) -> list[str]:
    """The names (as environment variables) of the settings the setup needs and lacks."""
    values = (
        settings.livekit_url, settings.livekit_api_key, settings.livekit_api_secret,
        settings.livekit_sip_username, settings.livekit_sip_password,
    )
    return [name for name, value in zip(REQUIRED_SETTINGS, values) if not (value or "").strip()]


def api_configured(settings: Settings) -> bool:
    return not any(name in API_SETTINGS for name in missing_settings(settings))


# -- planning (pure) ----------------------------------------------------------------------

def desired_trunk(target: SipTarget, current: "SIPInboundTrunkInfo | None" = None) -> "SIPInboundTrunkInfo":
    """``current`` with our fields set (or a fresh trunk): what ``replace`` should hold."""
    from livekit.protocol.sip import SIPHeaderOptions, SIPInboundTrunkInfo

    info = SIPInboundTrunkInfo()
    if current is not None:
        info.CopyFrom(current)
        for server_owned in ("created_at", "updated_at"):
            info.ClearField(server_owned)
    info.name = target.trunk_name
    if current is None or set(current.numbers) != set(target.numbers):  # keep LiveKit's order if same set
        del info.numbers[:]
        info.numbers.extend(target.numbers)
    info.auth_username = target.auth_username
    info.auth_password = target.auth_password
    info.headers_to_attributes[SESSION_HEADER] = SESSION_ATTRIBUTE
    info.headers_to_attributes[RESUME_HEADER] = RESUME_ATTRIBUTE
    if info.include_headers == SIPHeaderOptions.SIP_NO_HEADERS:  # sip.h.x-vp-session, a fallback for the worker
        info.include_headers = SIPHeaderOptions.SIP_X_HEADERS
    return info


def desired_rule(target: SipTarget, trunk_id: str, current: "SIPDispatchRuleInfo | None" = None) -> "SIPDispatchRuleInfo":
    """One room per call (``<prefix><random>``), our worker dispatched by name, our trunk only.

    The rule's number filters and PIN are cleared: the trunk already filters numbers, and a
    rule that skipped a newly bought number would leave that caller in an empty room.
    """
    from livekit.protocol.agent_dispatch import RoomAgentDispatch
    from livekit.protocol.sip import SIPDispatchRule, SIPDispatchRuleIndividual, SIPDispatchRuleInfo

    info = SIPDispatchRuleInfo()
    if current is not None:
        info.CopyFrom(current)
        for server_owned in ("created_at", "updated_at"):
            info.ClearField(server_owned)
    info.name = target.rule_name
    info.rule.CopyFrom(SIPDispatchRule(dispatch_rule_individual=SIPDispatchRuleIndividual(room_prefix=target.room_prefix)))
    del info.trunk_ids[:]
    info.trunk_ids.append(trunk_id)
    del info.inbound_numbers[:]
    del info.numbers[:]
    del info.room_config.agents[:]
    info.room_config.agents.append(RoomAgentDispatch(agent_name=target.agent_name))
    return info


def _named(items: Sequence[Any], name: str, kind: str) -> Any | None:
    found = [item for item in items if item.name == name]
    if len(found) > 1:
        log.warning("LiveKit holds %d %ss named %r; managing the first one only", len(found), kind, name)
    return found[0] if found else None


def _step(current: Any | None, wanted: Any, object_id: str | None) -> Step:
    if current is None:
        return Step("created", None, wanted)
    normalized = type(current)()
    normalized.CopyFrom(current)
    for server_owned in ("created_at", "updated_at"):
        normalized.ClearField(server_owned)
    if normalized == wanted:
        return Step("unchanged", object_id, current)
    return Step("updated", object_id, wanted)


def plan_trunk(target: SipTarget, trunks: Sequence["SIPInboundTrunkInfo"]) -> Step:
    current = _named(trunks, target.trunk_name, "inbound trunk")
    wanted = desired_trunk(target, current)
    return _step(current, wanted, current.sip_trunk_id if current is not None else None)


def plan_rule(target: SipTarget, trunk_id: str, rules: Sequence["SIPDispatchRuleInfo"]) -> Step:
    current = _named(rules, target.rule_name, "dispatch rule")
    wanted = desired_rule(target, trunk_id, current)
    return _step(current, wanted, current.sip_dispatch_rule_id if current is not None else None)


# -- talking to LiveKit -------------------------------------------------------------------

async def _apply_steps(target: SipTarget, lk: Any) -> SetupResult:
    from livekit import api

    trunks = (await lk.sip.list_inbound_trunk(api.ListSIPInboundTrunkRequest())).items
    trunk_step = plan_trunk(target, trunks)
    if trunk_step.action == "created":
        trunk = await lk.sip.create_inbound_trunk(api.CreateSIPInboundTrunkRequest(trunk=trunk_step.info))
    elif trunk_step.action == "updated":
        trunk = await lk.sip.update_inbound_trunk(trunk_step.object_id, trunk_step.info)
    else:
        trunk = trunk_step.info

    rules = (await lk.sip.list_dispatch_rule(api.ListSIPDispatchRuleRequest())).items
    rule_step = plan_rule(target, trunk.sip_trunk_id, rules)
    if rule_step.action == "created":
        rule = await lk.sip.create_dispatch_rule(api.CreateSIPDispatchRuleRequest(dispatch_rule=rule_step.info))
    elif rule_step.action == "updated":
        rule = await lk.sip.update_dispatch_rule(rule_step.object_id, rule_step.info)
    else:
        rule = rule_step.info
    return SetupResult(trunk.sip_trunk_id, trunk_step.action, tuple(trunk.numbers), rule.sip_dispatch_rule_id, rule_step.action)


def _describe_server_error(exc: Any, url: str) -> str:
    if exc.status == 401 or exc.code == "unauthenticated":
        return (f"LiveKit at {url} refused the credentials ({exc.status} {exc.code}: {exc.message}); "
                "check LIVEKIT_API_KEY and LIVEKIT_API_SECRET")
    if exc.status == 403 or exc.code == "permission_denied":
        return f"LiveKit at {url} denied SIP admin access ({exc.status} {exc.code}: {exc.message}); use a key with SIP admin rights"
    return f"LiveKit at {url} answered an error ({exc.status} {exc.code}: {exc.message})"


async def apply(
    target: SipTarget, *, url: str, api_key: str, api_secret: str,
    deadline: float = SETUP_TIMEOUT_SECONDS, request_timeout: float = REQUEST_TIMEOUT_SECONDS,
) -> SetupResult:
    """Bring LiveKit in line with ``target``, within ``deadline`` seconds, or raise LiveKitSetupError."""
    import aiohttp
    from livekit import api

    try:
        async with asyncio.timeout(deadline):
            client_timeout = aiohttp.ClientTimeout(total=min(request_timeout, deadline))
            async with api.LiveKitAPI(url, api_key, api_secret, timeout=client_timeout) as lk:
                return await _apply_steps(target, lk)
    except api.TwirpError as exc:
        raise LiveKitSetupError(_describe_server_error(exc, url)) from exc
    except TimeoutError as exc:  # asyncio.TimeoutError is the builtin since 3.11
        limit = f"{min(request_timeout, deadline):g} s a request, {deadline:g} s in all"
        raise LiveKitSetupError(f"LiveKit at {url} did not answer in time ({limit})") from exc
    except (aiohttp.ClientError, OSError, ValueError) as exc:
        raise LiveKitSetupError(f"could not reach LiveKit at {url}: {exc}") from exc


def run_setup(settings: Settings, numbers: Iterable[str], *, deadline: float = SETUP_TIMEOUT_SECONDS) -> SetupResult:
    """Synchronous ``apply`` from settings, for a thread without a running event loop: the
    operator's command and the number inventory's background sync, its only callers."""
    target = SipTarget.from_settings(settings, numbers)
    return asyncio.run(apply(
        target, url=settings.livekit_url or "", api_key=settings.livekit_api_key or "",
        api_secret=settings.livekit_api_secret or "", deadline=deadline,
        request_timeout=min(REQUEST_TIMEOUT_SECONDS, deadline),
    ))


# -- entry points -------------------------------------------------------------------------

def sync_numbers_if_configured(numbers: Iterable[str]) -> bool:
    """Make LiveKit's inbound trunk list ``numbers`` (all the platform's); True when LiveKit now does.

    False, quietly, when LiveKit is not configured (development, tests); False with a
    warning when it fails — a number change must never fail because LiveKit is down, and
    ``make livekit-setup`` repairs it later. At most ``SYNC_TIMEOUT_SECONDS``.
    """
    try:
        settings = get_settings()
        if not api_configured(settings):
            return False
        missing = missing_settings(settings)
        if missing:
            log.warning("LiveKit's inbound trunk was not synced: %s unset (run `make livekit-setup` once set)", ", ".join(missing))
            return False
        result = run_setup(settings, numbers, deadline=SYNC_TIMEOUT_SECONDS)
        log.info("LiveKit SIP sync: trunk %s %s (%d numbers), rule %s %s", result.trunk_id, result.trunk_action,
                 len(result.numbers), result.rule_id, result.rule_action)
        return True
    except Exception as exc:  # never the caller's problem; logged for the operator
        log.warning("LiveKit's inbound trunk was not synced: %s", exc)
        return False

