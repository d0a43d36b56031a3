"""/api/v1/organizations/{org_id}/call-summaries: the signed-in member's own subscription to e-mailed
call summaries; /api/v1/call-summaries/unsubscribe: the one-click link every such mail carries."""

from __future__ import annotations

import html
import uuid
from typing import Annotated

from fastapi import APIRouter, Query, status
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, ConfigDict, Field

from voice_platform.api.deps import CurrentUser, SessionDep
from voice_platform.services import call_summaries

router = APIRouter(tags=["call summaries"])
_SCOPED = {401: {"description": "Not signed in"}, 403: {"description": "Not allowed (or an API key)"},
           404: {"description": "Organization or agent not found"}}


class SubscriptionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    agent_ids: list[uuid.UUID] | None = Field(default=None, max_length=call_summaries.MAX_AGENTS,
                                              description="The agents whose calls to mail; null: every agent")


class SubscriptionOut(BaseModel):
    subscribed: bool
    agent_ids: list[uuid.UUID] | None = Field(description="null: every agent")
    mail_available: bool = Field(description="False: this installation sends no e-mail (SMTP is not configured)")


def _out(subscription: call_summaries.Subscription) -> SubscriptionOut:
    return SubscriptionOut(subscribed=subscription.subscribed, agent_ids=subscription.agent_ids,
                           mail_available=subscription.mail_available)


@router.get("/organizations/{org_id}/call-summaries", response_model=SubscriptionOut, responses=_SCOPED)
def get_subscription(org_id: uuid.UUID, user: CurrentUser, session: SessionDep) -> SubscriptionOut:
    return _out(call_summaries.get_subscription(session, user, org_id))


@router.put("/organizations/{org_id}/call-summaries", response_model=SubscriptionOut, responses=_SCOPED)
def subscribe(org_id: uuid.UUID, body: SubscriptionIn, user: CurrentUser, session: SessionDep) -> SubscriptionOut:
    """One e-mail per analysed phone call of these agents (null: all), to the signed-in user."""
    ids = None if body.agent_ids is None else [str(a) for a in body.agent_ids]
    return _out(call_summaries.subscribe(session, user, org_id, ids))


@router.delete("/organizations/{org_id}/call-summaries", status_code=status.HTTP_204_NO_CONTENT, responses=_SCOPED)
def unsubscribe(org_id: uuid.UUID, user: CurrentUser, session: SessionDep) -> None:
    call_summaries.unsubscribe(session, user, org_id)


def _page(title: str, text: str, code: int) -> HTMLResponse:
    body = (f'<!doctype html><html><head><meta charset="utf-8"><title>{html.escape(title)}</title></head>'
            '<body style="font-family:-apple-system,Segoe UI,Helvetica,Arial,sans-serif;max-width:560px;'
            f'margin:48px auto;padding:0 24px;color:#1c2024"><h1 style="font-size:22px">{html.escape(title)}</h1>'
            f"<p>{html.escape(text)}</p></body></html>")
    return HTMLResponse(body, status_code=code, headers={"Cache-Control": "no-store"})


@router.get("/call-summaries/unsubscribe", response_class=HTMLResponse,
            responses={200: {"description": "Unsubscribed (also when already)", "content": {"text/html": {}}},
                       403: {"description": "Invalid or expired link", "content": {"text/html": {}}}})
def unsubscribe_by_link(session: SessionDep, token: Annotated[str, Query(max_length=2000)]) -> HTMLResponse:
    """The link in every summary e-mail: works without signing in."""
    return _unsubscribed(session, token)


@router.post("/call-summaries/unsubscribe", response_class=HTMLResponse,
             responses={200: {"description": "Unsubscribed (also when already)", "content": {"text/html": {}}},
                        403: {"description": "Invalid or expired link", "content": {"text/html": {}}}})
def unsubscribe_one_click(session: SessionDep, token: Annotated[str, Query(max_length=2000)]) -> HTMLResponse:
    """RFC 8058 one-click unsubscribe: the mail's ``List-Unsubscribe`` address, POSTed by the mail
    client's own Unsubscribe button (body ``List-Unsubscribe=One-Click``, which changes nothing:
    the signed token in the address says who and which organization)."""
    return _unsubscribed(session, token)


def _unsubscribed(session, token: str) -> HTMLResponse:
    try:
        org_name = call_summaries.unsubscribe_by_token(session, token)
    except call_summaries.UnsubscribeLinkInvalid as exc:
        return _page("This link does not work", exc.message, exc.status_code)
    return _page("You are unsubscribed", f"You will get no more call summaries of {org_name} by e-mail.", 200)
