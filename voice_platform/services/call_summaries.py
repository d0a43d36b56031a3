"""Call summaries by e-mail: a member subscribes to their organization's analysed phone calls.

A subscription is one row per (user, organization), for every agent or chosen ones; anyone who
may read the calls (``call:read``) may have one, for their own inbox only (an API key has none).
The mails are rows (``CallSummaryMail``) written in the transaction that stores the analysis
(``queue_for``), and leave from the analysis loop (``send_due_once``): each is taken with a
lease in one conditional UPDATE before it is sent, like the password-reset mails, so several
processes never send one twice and a stopped one loses none. Who may still read the call and
still wants it is checked again when the mail leaves. Unsubscribing is one click: the link in
every mail carries a signed token, good without signing in.
"""

from __future__ import annotations

import logging
import uuid
import zoneinfo
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import delete, null, or_, update
from sqlmodel import Session, select

from voice_platform.errors import SPENT_OR_FORGED_PROOF, DomainError, MailNotSent, NotFound, ValidationFailed
from voice_platform.models import CallSession, CallSummaryMail, CallSummarySubscription, Organization, User, VoiceAgent
from voice_platform.models.base import aware, utcnow
from voice_platform.models.call_summaries import FAILED, PENDING, SENT
from voice_platform.models.calls import PHONE
from voice_platform.security import TokenInvalid, sign_payload, verify_signed_payload
from voice_platform.services import mail, validation
from voice_platform.services.rbac import permissions_of, refuse_api_key, require
from voice_platform.settings import get_settings

log = logging.getLogger(__name__)

UNSUBSCRIBE_PURPOSE = "call-summary-unsubscribe"
UNSUBSCRIBE_LINK_DAYS = 365
UNSUBSCRIBE_PATH = "/api/v1/call-summaries/unsubscribe"
MAX_AGENTS = 200
MAX_ATTEMPTS = 3
RETRY_SECONDS = 60.0  # times the attempts made: a mail server that is down gets time to come back
AGENT_NOT_FOUND = "Agent not found"
INVALID_LINK = "This unsubscribe link is invalid or has expired; sign in and unsubscribe from your account page"


class UnsubscribeLinkInvalid(DomainError):
    status_code = SPENT_OR_FORGED_PROOF


@dataclass(frozen=True)
class Subscription:
    subscribed: bool
    agent_ids: list[uuid.UUID] | None  # None: every agent of the organization
    mail_available: bool  # SMTP is configured: without it nothing is sent


def _row(session: Session, user_id: uuid.UUID, org_id: uuid.UUID) -> CallSummarySubscription | None:
    return session.exec(select(CallSummarySubscription).where(
        CallSummarySubscription.user_id == user_id, CallSummarySubscription.organization_id == org_id)).first()


def _view(row: CallSummarySubscription | None) -> Subscription:
    agents = None if row is None or row.agent_ids is None else [uuid.UUID(a) for a in row.agent_ids]
    return Subscription(subscribed=row is not None, agent_ids=agents, mail_available=mail.is_configured())


def _allowed(session: Session, actor: User, org_id: uuid.UUID) -> None:
    require(session, actor, "call:read", org_id)
    refuse_api_key(actor, "subscribe to e-mails (they go to a person)", org_id)


def get_subscription(session: Session, actor: User, org_id: uuid.UUID) -> Subscription:
    _allowed(session, actor, org_id)
    return _view(_row(session, actor.id, org_id))


def _agent_ids(session: Session, org_id: uuid.UUID, agent_ids: object) -> list[str] | None:
    if agent_ids is None:
        return None
    if not isinstance(agent_ids, list) or len(agent_ids) > MAX_AGENTS:
        raise ValidationFailed(f"agent_ids is null (every agent) or a list of at most {MAX_AGENTS} agent ids",
                                          field="agent_ids")
    try:
        wanted = list(dict.fromkeys(uuid.UUID(str(a)) for a in agent_ids))
    except ValueError as exc:
        raise ValidationFailed("agent_ids must be agent ids", field="agent_ids") from exc
    found = set(session.exec(select(VoiceAgent.id).where(VoiceAgent.organization_id == org_id,
                                                         VoiceAgent.id.in_(wanted))).all()) if wanted else set()
    if len(found) != len(wanted):  # another organization's agent is as unknown as a made-up one
        raise NotFound(AGENT_NOT_FOUND)
    return [str(a) for a in wanted]


def subscribe(session: Session, actor: User, org_id: uuid.UUID, agent_ids: list | None) -> Subscription:
    """Subscribe (or change which agents): ``agent_ids`` None means every agent."""
    _allowed(session, actor, org_id)
    chosen = _agent_ids(session, org_id, agent_ids)
    now = utcnow()
    stored = null() if chosen is None else chosen
    insert = validation.insert_for(session)(CallSummarySubscription.__table__).values(
        id=uuid.uuid4(), user_id=actor.id, organization_id=org_id, agent_ids=stored, created_at=now, updated_at=now)
    session.execute(insert.on_conflict_do_update(index_elements=["user_id", "organization_id"],
                                                 set_={"agent_ids": stored, "updated_at": now}))
    session.expire_all()
    return _view(_row(session, actor.id, org_id))


def unsubscribe(session: Session, actor: User, org_id: uuid.UUID) -> None:
    _allowed(session, actor, org_id)
    _forget(session, actor.id, org_id)


def _forget(session: Session, user_id: uuid.UUID, org_id: uuid.UUID) -> bool:
    gone = session.execute(delete(CallSummarySubscription).where(
        CallSummarySubscription.user_id == user_id, CallSummarySubscription.organization_id == org_id))
    return bool(gone.rowcount)


def unsubscribe_link(user_id: uuid.UUID, org_id: uuid.UUID) -> str:
    token = sign_payload({"sub": str(user_id), "org": str(org_id)}, minutes=UNSUBSCRIBE_LINK_DAYS * 24 * 60,
                         purpose=UNSUBSCRIBE_PURPOSE)
    return f"{get_settings().api_url}{UNSUBSCRIBE_PATH}?token={token}"


def unsubscribe_by_token(session: Session, token: str) -> str:
    """The one-click link: no sign-in, the token names the user and organization. The
    organization's name, for the page that says it is done (clicking twice is fine)."""
    try:
        claims = verify_signed_payload(token, purpose=UNSUBSCRIBE_PURPOSE)
        user_id, org_id = uuid.UUID(claims["sub"]), uuid.UUID(claims["org"])
    except (TokenInvalid, KeyError, ValueError, TypeError) as exc:
        raise UnsubscribeLinkInvalid(INVALID_LINK) from exc
    _forget(session, user_id, org_id)
    org = session.get(Organization, org_id)
    return org.name if org else "the organization"


# --- the mails ----------------------------------------------------------------------------------

def queue_for(session: Session, call: CallSession) -> int:
    """One mail row per subscriber who wants this analysed phone call (in the caller's transaction)."""
    if call.kind != PHONE or not mail.is_configured():
        return 0
    subscribers = session.exec(
        select(CallSummarySubscription.user_id, CallSummarySubscription.agent_ids)
        .join(User, User.id == CallSummarySubscription.user_id)
        .where(CallSummarySubscription.organization_id == call.organization_id, User.is_active)
    ).all()
    queued = 0
    for user_id, agent_ids in subscribers:
        if agent_ids is not None and str(call.agent_id) not in agent_ids:
            continue
        if "call:read" not in permissions_of(session, session.get(User, user_id), call.organization_id):
            continue  # left the organization: the subscription waits, unused, in case they come back
        session.add(CallSummaryMail(call_session_id=call.id, user_id=user_id))
        queued += 1
    session.flush()
    return queued


def _lease() -> timedelta:
    """Outlasts every SMTP step of one send (each bounded by SMTP_TIMEOUT_SECONDS), as for password resets."""
    return timedelta(seconds=60 + 10 * get_settings().smtp_timeout_seconds)


def _due(now) -> tuple:
    return (CallSummaryMail.status == PENDING,
            or_(CallSummaryMail.lease_until.is_(None), CallSummaryMail.lease_until < now))


def send_due_once() -> int:
    """Send every summary mail due now; how many left. Run by the analysis loop; tests call it."""
    if not mail.is_configured():
        return 0
    sent = 0
    while (taken := _take()) is not None:
        mail_id, attempt, message = taken
        try:
            mail.send(message)
        except MailNotSent as exc:
            _after_failure(mail_id, attempt, exc.message)
            continue
        _settle(mail_id, status=SENT, sent_at=utcnow(), lease_until=None, error=None)
        sent += 1
    return sent


def _settle(mail_id: uuid.UUID, **values) -> None:
    from voice_platform.db import session_scope

    with session_scope() as session:
        session.execute(update(CallSummaryMail).where(CallSummaryMail.id == mail_id).values(**values))


def _after_failure(mail_id: uuid.UUID, attempt: int, error: str) -> None:
    if attempt >= MAX_ATTEMPTS:
        log.error("call summary e-mail %s not sent after %d attempts: %s", mail_id, attempt, error)
        _settle(mail_id, status=FAILED, lease_until=None, error=error[:500])
    else:
        _settle(mail_id, lease_until=utcnow() + timedelta(seconds=RETRY_SECONDS * attempt), error=error[:500])


def _take() -> tuple[uuid.UUID, int, mail.Mail] | None:
    """The next due mail, leased in its own committed statement; one that is no longer wanted
    (unsubscribed, left the organization) is settled as failed and skipped."""
    from voice_platform.db import session_scope

    with session_scope() as session:
        while True:
            now = utcnow()
            candidate = session.exec(select(CallSummaryMail.id).where(*_due(now))
                                     .order_by(CallSummaryMail.created_at).limit(1)).first()
            if candidate is None:
                return None
            taken = session.execute(
                update(CallSummaryMail).where(CallSummaryMail.id == candidate, *_due(now))
                .values(lease_until=now + _lease(), attempts=CallSummaryMail.attempts + 1)
                .returning(CallSummaryMail.call_session_id, CallSummaryMail.user_id, CallSummaryMail.attempts)
                .execution_options(synchronize_session=False)
            ).first()
            if taken is None:  # another process took it in between: look again
                continue
            call_id, user_id, attempts = taken
            message = _message_if_wanted(session, call_id, user_id)
            if message is None:
                session.execute(update(CallSummaryMail).where(CallSummaryMail.id == candidate)
                                .values(status=FAILED, lease_until=None, error="no longer subscribed"))
                continue
            return candidate, attempts, message


def _message_if_wanted(session: Session, call_id: uuid.UUID, user_id: uuid.UUID) -> mail.Mail | None:
    call, user = session.get(CallSession, call_id), session.get(User, user_id)
    if call is None or user is None or not user.is_active or call.analysis is None:
        return None
    subscription = _row(session, user.id, call.organization_id)
    if subscription is None or "call:read" not in permissions_of(session, user, call.organization_id):
        return None
    agent, org = session.get(VoiceAgent, call.agent_id), session.get(Organization, call.organization_id)
    return _message(user, call, agent, org)


def _when(call: CallSession, org: Organization) -> str:
    started = aware(call.started_at)
    try:
        zone = zoneinfo.ZoneInfo(org.timezone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        zone = zoneinfo.ZoneInfo("UTC")
    return started.astimezone(zone).strftime("%Y-%m-%d %H:%M ") + org.timezone if started else "an unknown time"


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "unknown length"
    minutes, secs = divmod(round(seconds), 60)
    return f"{minutes} min {secs} s" if minutes else f"{secs} s"


def _message(user: User, call: CallSession, agent: VoiceAgent | None, org: Organization) -> mail.Mail:
    """The summary, caller, duration, verdict and fields (in the plan's order), a link to the call."""
    agent_name = agent.name if agent else "Your agent"
    unsubscribe = unsubscribe_link(user.id, org.id)
    analysis = call.analysis or {}
    caller = call.from_number or "an unknown number"
    paragraphs = [f"{agent_name} took a call from {caller} on {_when(call, org)} ({_duration(call.duration_seconds)}).",
                  analysis.get("summary") or "(no summary)"]
    if analysis.get("success") is not None:
        verdict = "Succeeded" if analysis["success"] else "Did not succeed"
        paragraphs.append(verdict + (f": {analysis['success_reason']}" if analysis.get("success_reason") else ""))
    if analysis.get("sentiment"):
        paragraphs.append(f"The caller's sentiment: {analysis['sentiment']}")
    data = analysis.get("data") or {}
    order = [f["name"] for f in ((agent.analysis_plan if agent else None) or {}).get("fields") or []]
    data = dict(sorted(data.items(), key=lambda item: order.index(item[0]) if item[0] in order else len(order)))
    if data:
        paragraphs.append("\n".join(f"{name}: {'-' if value is None else value}" for name, value in data.items()))
    return mail.Mail(
        to=user.email,
        subject=f"Call summary: {agent_name}, {caller}",
        paragraphs=tuple(paragraphs),
        link=f"{get_settings().public_base_url.rstrip('/')}/calls/{call.id}",
        button="Open the call",
        footer=(f"You get this because you subscribed to call summaries of {org.name}. "
                f"Unsubscribe with one click: {unsubscribe}"),
        unsubscribe=unsubscribe,
    )
