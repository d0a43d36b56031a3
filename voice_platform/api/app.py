"""Builds the FastAPI application: routers under /api/v1, error mapping, start-up work."""

from __future__ import annotations

from contextlib import asynccontextmanager

from fastapi import APIRouter, FastAPI

from voice_platform.api import agents, auth, calls, health, invitations, organizations, overview, phone_numbers, platform_admin, test_chat, tools, voice
from voice_platform.api import password_reset
from voice_platform.api import api_keys, audit_log
from voice_platform.api import billing
from voice_platform.api import custom_tools
from voice_platform.api import do_not_call
from voice_platform.api import call_summaries
from voice_platform.api import webhooks
from voice_platform.api import outbound_calls
from voice_platform.api import campaigns
from voice_platform.api import transfer
from voice_platform.api.errors import install_error_handlers

API_PREFIX = "/api/v1"


def build_router() -> APIRouter:
    router = APIRouter(prefix=API_PREFIX)
    for module in (auth, organizations, invitations, overview, agents, test_chat, phone_numbers, tools, calls, voice, platform_admin, health):
        router.include_router(module.router)
    router.include_router(password_reset.router)  # /auth/password-reset (e-mail)
    router.include_router(api_keys.router)  # /organizations/{org_id}/api-keys
    router.include_router(audit_log.router)  # /organizations/{org_id}/audit-log (read-only)
    router.include_router(billing.router)  # /billing/plans, /organizations/{org_id}/billing
    router.include_router(custom_tools.router)  # /organizations/{org_id}/custom-tools
    router.include_router(do_not_call.router)  # /organizations/{org_id}/do-not-call
    router.include_router(call_summaries.router)  # /organizations/{org_id}/call-summaries, /call-summaries/unsubscribe
    router.include_router(webhooks.router)  # /organizations/{org_id}/webhooks
    router.include_router(outbound_calls.router)  # /agents/{agent_id}/calls (place an outbound call)
    router.include_router(campaigns.router)  # /organizations/{org_id}/campaigns (and start|pause|resume|cancel)
    router.include_router(transfer.router)  # /voice/twilio/transfer/... (a warm transfer's Twilio webhooks)
    return router


@asynccontextmanager
async def _lifespan(_app: FastAPI):
    from voice_platform.startup import on_startup

    on_startup()
    yield


class _Api(FastAPI):
    """The API. Twilio's incoming-call webhook, which every phone call hits, is answered ahead of
    FastAPI's per-request layers by its own ASGI app (``voice.incoming_app``, which traces itself
    and does what those layers did for it), and so is an outbound call's answer
    (``voice.outbound_app``); every other request is FastAPI's."""

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "http" and scope["path"] == voice.INCOMING_ROUTE:
            await voice.incoming_app(scope, receive, send)
        elif scope["type"] == "http" and scope["path"] == voice.OUTBOUND_ROUTE:
            await voice.outbound_app(scope, receive, send)  # an outbound call's answer: the same fast path
        else:
            await super().__call__(scope, receive, send)


def create_app() -> FastAPI:
    app = _Api(
        title="Voice Agent Platform API",
        version="1.0.0",
        description="Organizations, voice agents and their tools. Authenticate with a bearer token from /api/v1/auth/signin.",
        lifespan=_lifespan,
        # FastAPI's own OpenTelemetry: a server span per request (and request metrics) through
        # the global providers voice_platform.telemetry installs; a no-op while telemetry is off.
        # No operation spans and no exception logs (a validation failure's message quotes the
        # input, which may be a password). The incoming-call webhook never gets here (_Api).
        telemetry={"operation_spans": False, "logs": False},
    )
    install_error_handlers(app)
    app.include_router(build_router())
    return app
