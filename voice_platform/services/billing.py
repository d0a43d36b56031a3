"""Plans, subscriptions, metering and the limits that hold where calls start.

- Every organization has one subscription (``start_subscription``, called by whoever creates
  an organization). Periods are one calendar month from the subscription's start day and roll
  over lazily: whoever reads or meters after the period's end moves it on, in one conditional
  UPDATE, so two processes cannot roll it twice.
- A phone call takes a concurrency slot (``subscriptions.active_calls``) in the statement that
  inserts its session (``services.calls.open_phone_session``) and gives it back in the
  transition that closes the session (``call_ended``), so the counter is exact under
  concurrent webhooks: PostgreSQL's row lock on the subscription serialises the increments
  and re-checks the limit for each. A session whose end was lost (Twilio's callback and the
  worker both gone) is closed as ``lost`` by ``release_stale_sessions`` when its
  organization next hits the limit, so it cannot hold its slot forever.
- Every ended call the worker answered meters its minutes (rounded up per started minute, as
  telephony bills) as one ``BillingEvent`` whose ``external_id`` is ``call:<session id>``:
  a retried status callback or a race with the worker cannot meter twice.
- Test chats (kind ``test``) take no slot and are never metered.

No payment provider is named: ``PaymentProvider`` is the seam one plugs into (Stripe would
create its subscription in ``plan_changed`` and report metered usage in ``usage_recorded``).
The default provider only records; plans switch at once.
"""

from __future__ import annotations

import calendar
import math
import uuid
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Protocol

from sqlalchemy import and_, case, func, or_, update
from sqlmodel import Session, select

from voice_platform.errors import NotFound, QuotaExceeded, ValidationFailed
from voice_platform.models import BillingEvent, CallSession, Plan, Subscription, User, VoiceAgent
from voice_platform.models.base import aware, utcnow
from voice_platform.models.billing import CALL_MINUTES, PERIOD_STARTED, PLAN_CHANGED
from voice_platform.models.calls import FAILED, OPEN_STATUSES, PENDING, PHONE
from voice_platform.services import audit, validation
from voice_platform.services.rbac import permissions_of, require

DEFAULT_PLAN = "free"
# The plans the migrations create (their rows hold prices and limits); the API declares them.
PLAN_IDS = ("free", "starter", "pro")
# A pending session (webhook answered, no worker yet) whose Twilio callbacks never came: Twilio
# gives up dialing within a minute, so after 10 it is certainly over.
PENDING_STALE = timedelta(minutes=10)
# Twilio ends every call after 4 hours (its maximum call length): an open session older than
# that lost its end.
ACTIVE_STALE = timedelta(hours=4, minutes=10)
LOST = "lost"

# Why the incoming webhook did not dial (spoken to the caller by telephony.twiml).
OVER_CONCURRENCY = "over_concurrency"
MINUTES_EXHAUSTED = "minutes_exhausted"
NO_SUBSCRIPTION = "no_subscription"


class PaymentProvider(Protocol):
    """Where a payment provider plugs in. Both hooks run inside the change's transaction:
    raising refuses the change (nothing is stored)."""

    def plan_changed(self, subscription: Subscription, old: Plan, new: Plan) -> str | None:
        """Return the provider's subscription id, if it has one."""

    def usage_recorded(self, subscription: Subscription, event: BillingEvent) -> None: ...


class RecordOnly:
    """No payment provider: plans change at once and usage is only recorded here."""

    def plan_changed(self, subscription: Subscription, old: Plan, new: Plan) -> str | None:
        return subscription.external_id

    def usage_recorded(self, subscription: Subscription, event: BillingEvent) -> None:
        return None


provider: PaymentProvider = RecordOnly()


def add_months(moment: datetime, months: int) -> datetime:
    """The same day and time ``months`` later, clamped to the month's last day (Jan 31 -> Feb 28)."""
    month0 = moment.month - 1 + months
    year, month = moment.year + month0 // 12, month0 % 12 + 1
    return moment.replace(year=year, month=month, day=min(moment.day, calendar.monthrange(year, month)[1]))


def _period_containing(start: datetime, now: datetime) -> tuple[datetime, datetime]:
    """The monthly period, counted from ``start``, that contains ``now``."""
    months = max(0, (now.year - start.year) * 12 + now.month - start.month - 1)
    begin = add_months(start, months)
    while add_months(start, months + 1) <= now:
        months += 1
        begin = add_months(start, months)
    return begin, add_months(start, months + 1)


def start_subscription(session: Session, organization_id: uuid.UUID, plan_id: str = DEFAULT_PLAN,
                       now: datetime | None = None) -> Subscription:
    """A new organization's subscription: ``plan_id`` from now, for one month at a time."""
    now = now or utcnow()
    if session.get(Plan, plan_id) is None:
        raise ValidationFailed(f"Unknown plan {plan_id!r}", field="plan")
    sub = Subscription(organization_id=organization_id, plan=plan_id, status="active",
                       current_period_start=now, current_period_end=add_months(now, 1))
    session.add(sub)
    session.flush()
    return sub


def subscription_of(session: Session, organization_id: uuid.UUID, now: datetime | None = None) -> Subscription:
    """The organization's subscription in its current period (rolled over if it ended; created
    on the Free plan for an organization that has none, e.g. made before billing existed)."""
    sub = session.exec(select(Subscription).where(Subscription.organization_id == organization_id)).first()
    if sub is None:
        return start_subscription(session, organization_id, now=now)
    return _roll_over(session, sub, now or utcnow())


def _lock_subscription(session: Session, organization_id: uuid.UUID) -> None:
    touched = session.execute(update(Subscription).where(Subscription.organization_id == organization_id)
                              .values(updated_at=utcnow()).returning(Subscription.id)).first()
    if touched is None:
        start_subscription(session, organization_id)


def _roll_over(session: Session, sub: Subscription, now: datetime) -> Subscription:
    old_end = aware(sub.current_period_end)
    if now < old_end:
        return sub
    begin, end = _period_containing(aware(sub.current_period_start), now)
    moved = session.execute(
        update(Subscription)
        .where(Subscription.id == sub.id, Subscription.current_period_end == old_end)
        .values(current_period_start=begin, current_period_end=end, minutes_used=0, updated_at=now)
        .returning(Subscription.id)
    ).first()
    if moved is not None:
        session.add(BillingEvent(organization_id=sub.organization_id, subscription_id=sub.id,
                                 event_type=PERIOD_STARTED, external_id=f"period:{sub.id}:{begin.date()}",
                                 payload={"start": begin.isoformat(), "end": end.isoformat(), "plan": sub.plan}))
        session.flush()
    session.refresh(sub)
    return sub


def plans(session: Session) -> list[Plan]:
    return list(session.exec(select(Plan).order_by(Plan.position)).all())


def plan_of(session: Session, sub: Subscription) -> Plan:
    plan = session.get(Plan, sub.plan)
    if plan is None:  # the FK makes this impossible; a clear message if the seed was removed
        raise NotFound(f"Plan {sub.plan!r} is missing: run the migrations")
    return plan


# --- limits -----------------------------------------------------------------------------------

def check_agent_limit(session: Session, organization_id: uuid.UUID) -> None:
    """Creating one more agent must stay within the plan. The count is taken after a write to the
    subscription's row, so two simultaneous creations count one after the other (PostgreSQL: the
    row lock; SQLite: the write lock, taken before the count's snapshot)."""
    _lock_subscription(session, organization_id)
    plan = plan_of(session, subscription_of(session, organization_id))
    count = session.exec(select(func.count()).select_from(VoiceAgent)
                         .where(VoiceAgent.organization_id == organization_id)).one()
    if count >= plan.max_agents:
        raise QuotaExceeded(f"The {plan.name} plan allows {plan.max_agents} agent"
                            f"{'s' if plan.max_agents != 1 else ''}; upgrade the plan on the billing page "
                            "to create more.")


def slot_conditions(now_param):
    """The WHERE of taking a slot: under the concurrency limit and the period's minute cap (a
    period already over counts as unused: it rolls over at the next metering). One place for
    the webhook's statement and the worker's fallback."""
    return and_(
        Plan.id == Subscription.plan,
        Subscription.active_calls < Plan.max_concurrent_calls,
        or_(Plan.minute_cap.is_(None), Subscription.minutes_used < Plan.minute_cap,
            Subscription.current_period_end <= now_param),
    )


def take_slot_statement(organization_id, now_param):
    return (update(Subscription)
            .where(Subscription.organization_id == organization_id, slot_conditions(now_param))
            .values(active_calls=Subscription.active_calls + 1, updated_at=now_param)
            .returning(Subscription.organization_id))


def take_slot(session, organization_id: uuid.UUID) -> str | None:
    """Take a concurrency slot for a phone call; None when taken, else why not (the worker's
    fallback; the webhook takes its slot inside its own statement, services.calls)."""
    for attempt in (1, 2):
        now = utcnow()
        if session.execute(take_slot_statement(organization_id, now)).first() is not None:
            return None
        reason = make_room(session, organization_id, now)
        if reason is not None or attempt == 2:
            return reason or refusal_reason(session, organization_id)
    return OVER_CONCURRENCY


def make_room(session, organization_id: uuid.UUID, now: datetime) -> str | None:
    """After a slot was refused: None when a second try may succeed (a missing subscription was
    made, or lost sessions gave their slots back), else the limit that holds. The one rule for
    the webhook's statement and the worker's fallback; works on a Core connection too."""
    reason = refusal_reason(session, organization_id)
    if reason == NO_SUBSCRIPTION:
        ensure_subscription(session, organization_id)
        return None
    if reason == OVER_CONCURRENCY and release_stale_sessions(session, organization_id, now):
        return None
    return reason


def refusal_reason(session, organization_id: uuid.UUID) -> str:
    """Why ``take_slot_statement`` took nothing: the limit that is reached."""
    row = session.execute(
        select(Subscription.active_calls, Plan.max_concurrent_calls, Subscription.minutes_used, Plan.minute_cap,
               Subscription.current_period_end)
        .join(Plan, Plan.id == Subscription.plan).where(Subscription.organization_id == organization_id)
    ).first()
    if row is None:
        return NO_SUBSCRIPTION
    _active, _most, used, cap, end = row
    if cap is not None and used >= cap and aware(end) > utcnow():
        return MINUTES_EXHAUSTED
    return OVER_CONCURRENCY


def ensure_subscription(session, organization_id: uuid.UUID) -> None:
    """For a connection or session without the ORM's unit of work (the webhook's): an organization
    made before billing existed gets its Free subscription."""
    now = utcnow()
    insert = validation.insert_for(session)(Subscription.__table__).values(
        id=uuid.uuid4(), organization_id=organization_id, plan=DEFAULT_PLAN, status="active",
        current_period_start=now, current_period_end=add_months(now, 1), minutes_used=0, active_calls=0,
        created_at=now, updated_at=now,
    ).on_conflict_do_nothing(index_elements=["organization_id"])
    session.execute(insert)


def give_back_slot(session, organization_id: uuid.UUID, count: int = 1) -> None:
    session.execute(
        update(Subscription).where(Subscription.organization_id == organization_id)
        .values(active_calls=case((Subscription.active_calls > count, Subscription.active_calls - count), else_=0),
                updated_at=utcnow())
    )


def release_stale_sessions(session, organization_id: uuid.UUID, now: datetime | None = None) -> int:
    """Close the organization's phone sessions whose end was lost and give back their slots.
    Returns how many were closed. Not metered: nobody knows how long they lasted."""
    now = now or utcnow()
    closed = session.execute(
        update(CallSession)
        .where(CallSession.organization_id == organization_id, CallSession.kind == PHONE,
               CallSession.status.in_(OPEN_STATUSES),
               or_(and_(CallSession.status == PENDING, CallSession.started_at < now - PENDING_STALE),
                   CallSession.started_at < now - ACTIVE_STALE))
        .values(status=FAILED, end_reason=LOST, ended_at=now, updated_at=now,
                error="Neither Twilio nor the worker reported the end of this call; closed to free its slot")
        .returning(CallSession.id)
    ).all()
    if closed:
        give_back_slot(session, organization_id, len(closed))
    return len(closed)


# --- metering ---------------------------------------------------------------------------------

def billable_minutes(duration_seconds: float | None) -> int:
    """Rounded up per started minute, as telephony bills: 0 s -> 0, 1 s -> 1, 60 s -> 1, 61 s -> 2."""
    if not duration_seconds or duration_seconds <= 0:
        return 0
    return math.ceil(duration_seconds / 60 - 1e-9)


def call_ended(session: Session, call: CallSession, *, duration_seconds: float | None) -> BillingEvent | None:
    """The transition that closed phone session ``call`` calls this once: the slot goes back, and
    a call the worker answered is metered (exactly once, keyed by the session id)."""
    give_back_slot(session, call.organization_id)
    minutes = billable_minutes(duration_seconds) if call.answered_at is not None else 0
    if minutes == 0:
        return None
    sub = subscription_of(session, call.organization_id)
    inserted = session.execute(
        validation.insert_for(session)(BillingEvent.__table__).values(
            id=uuid.uuid4(), organization_id=call.organization_id, subscription_id=sub.id, call_session_id=call.id,
            event_type=CALL_MINUTES, quantity=minutes, amount_cents=0, external_id=f"call:{call.id}",
            payload={"seconds": round(float(duration_seconds or 0), 1), "agent_id": str(call.agent_id)},
            created_at=utcnow(),
        ).on_conflict_do_nothing(index_elements=["external_id"]).returning(BillingEvent.__table__.c.id)
    ).first()
    if inserted is None:
        return None
    used_after = session.execute(
        update(Subscription).where(Subscription.id == sub.id)
        .values(minutes_used=Subscription.minutes_used + minutes, updated_at=utcnow())
        .returning(Subscription.minutes_used)
    ).scalar_one()
    plan = plan_of(session, sub)
    overage = _overage(used_after, plan) - _overage(used_after - minutes, plan)
    event = session.get(BillingEvent, inserted[0])
    event.amount_cents = overage * plan.overage_cents_per_minute
    event.payload = {**event.payload, "overage_minutes": overage}
    session.add(event)
    session.flush()
    provider.usage_recorded(sub, event)
    return event


def _overage(minutes: int, plan: Plan) -> int:
    return max(0, minutes - plan.included_minutes)


# --- the billing page -------------------------------------------------------------------------

@dataclass(frozen=True)
class DayUsage:
    day: date
    minutes: int


@dataclass(frozen=True)
class BillingSummary:
    plan: Plan
    subscription: Subscription
    minutes_used: int
    included_minutes: int
    overage_minutes: int
    overage_cents: int
    projected_minutes: int
    projected_overage_cents: int
    active_calls: int
    agents: int
    days: list[DayUsage] = field(default_factory=list)
    can_manage: bool = False


def summary(session: Session, actor: User, organization_id: uuid.UUID, now: datetime | None = None) -> BillingSummary:
    """The billing page: plan, this period's minutes and overage, a straight-line projection to
    the period's end, and minutes per day of the period."""
    require(session, actor, "org:read", organization_id)
    now = now or utcnow()
    sub = subscription_of(session, organization_id, now)
    plan = plan_of(session, sub)
    start, end = aware(sub.current_period_start), aware(sub.current_period_end)
    elapsed = max((now - start).total_seconds(), 86400.0)  # a period's first day projects as a whole day
    total = max((end - start).total_seconds(), 1.0)
    projected = math.ceil(sub.minutes_used * total / elapsed) if sub.minutes_used else 0
    day = func.date(BillingEvent.created_at)
    rows = session.exec(
        select(day, func.sum(BillingEvent.quantity))
        .where(BillingEvent.organization_id == organization_id, BillingEvent.event_type == CALL_MINUTES,
               BillingEvent.created_at >= start, BillingEvent.created_at < end)
        .group_by(day).order_by(day)
    ).all()
    by_day = {(d if isinstance(d, date) else date.fromisoformat(str(d))): int(m or 0) for d, m in rows}
    days = [DayUsage(start.date() + timedelta(days=i), by_day.get(start.date() + timedelta(days=i), 0))
            for i in range((min(now, end).date() - start.date()).days + 1)]
    agents = session.exec(select(func.count()).select_from(VoiceAgent)
                          .where(VoiceAgent.organization_id == organization_id)).one()
    overage = _overage(sub.minutes_used, plan)
    return BillingSummary(
        plan=plan, subscription=sub, minutes_used=sub.minutes_used, included_minutes=plan.included_minutes,
        overage_minutes=overage, overage_cents=overage * plan.overage_cents_per_minute,
        projected_minutes=projected, projected_overage_cents=_overage(projected, plan) * plan.overage_cents_per_minute,
        active_calls=sub.active_calls, agents=int(agents), days=days,
        can_manage="billing:manage" in permissions_of(session, actor, organization_id),
    )


@dataclass(frozen=True)
class EventPage:
    items: list[BillingEvent]
    total: int
    offset: int
    limit: int


def events(session: Session, actor: User, organization_id: uuid.UUID, *, offset: int = 0, limit: int = 25) -> EventPage:
    require(session, actor, "org:read", organization_id)
    limit, offset = max(1, min(limit, 200)), max(0, offset)
    where = BillingEvent.organization_id == organization_id
    total = session.exec(select(func.count()).select_from(BillingEvent).where(where)).one()
    items = list(session.exec(select(BillingEvent).where(where)
                              .order_by(BillingEvent.created_at.desc(), BillingEvent.id).offset(offset).limit(limit)).all())
    return EventPage(items=items, total=int(total), offset=offset, limit=limit)


def change_plan(session: Session, actor: User, organization_id: uuid.UUID, plan_id: str) -> Subscription:
    """An org admin switches plan; it applies at once, the period and its minutes stay. Refused
    when the organization already has more agents than the new plan allows."""
    require(session, actor, "billing:manage", organization_id)
    new = session.get(Plan, plan_id)
    if new is None:
        raise ValidationFailed(f"Unknown plan {plan_id!r}", field="plan")
    sub = subscription_of(session, organization_id)
    old = plan_of(session, sub)
    if old.id == new.id:
        return sub
    agents = session.exec(select(func.count()).select_from(VoiceAgent)
                          .where(VoiceAgent.organization_id == organization_id)).one()
    if agents > new.max_agents:
        raise QuotaExceeded(f"The {new.name} plan allows {new.max_agents} agents and this organization has {agents}; "
                            "delete agents first.", field="plan")
    sub.external_id = provider.plan_changed(sub, old, new)
    sub.plan = new.id
    sub.updated_at = utcnow()
    session.add(sub)
    session.add(BillingEvent(organization_id=organization_id, subscription_id=sub.id, event_type=PLAN_CHANGED,
                             payload={"from": old.id, "to": new.id, "by": audit.actor_label(actor)}))
    audit.record(session, actor, organization_id, "plan.changed", target_type="subscription", target_id=sub.id,
                 summary=f"Plan changed from {old.name} to {new.name}", before={"plan": old.id}, after={"plan": new.id})
    session.flush()
    return sub
