"""Google Calendar: the agent reads availability and books/cancels appointments.

Blocking Google client calls run in a thread so the call's audio loop never waits.
Every failure the caller can hit (no connection, revoked access, a taken slot)
becomes a ``ToolError`` whose message the model can say out loud.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from datetime import datetime, time, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from google.auth.exceptions import RefreshError
from google.auth.transport.requests import Request
from googleapiclient.errors import HttpError
from livekit.agents import RunContext
from livekit.agents.llm import ToolError, function_tool

from voice_platform.tools.base import BaseTool, ToolMetadata, ToolRuntime
from voice_platform.google_client import CALENDAR_SCOPES, calendar_service, credentials_from_tokens, tokens_from_credentials

log = logging.getLogger(__name__)
MARKER = "voice_platform_agent_tool"  # private extended property on events we create
REQUEST_KEY = "voice_platform_request"
NOT_CONNECTED = "Google Calendar is not connected for this agent; an administrator must connect it in the dashboard."
REVOKED = "Access to Google Calendar was revoked or expired; an administrator must reconnect it in the dashboard."

CONFIG_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "calendar_id": {"x-order": 1, "type": "string", "title": "Calendar ID", "default": "primary", "minLength": 1, "maxLength": 320},
        "time_zone": {
            "x-order": 2, "type": "string", "title": "Time zone", "default": "UTC", "format": "time-zone", "minLength": 1, "maxLength": 64,
            "description": "IANA name, e.g. Europe/Paris or America/New_York",
        },
        "default_duration_minutes": {
            "x-order": 5, "type": "integer", "title": "Default appointment length (minutes)", "default": 30, "minimum": 5, "maximum": 480,
        },
        "business_hours_start": {
            "x-order": 3, "type": "string", "title": "Business hours start", "format": "time-of-day", "default": "09:00",
            "pattern": "^([01][0-9]|2[0-3]):[0-5][0-9]$",
        },
        "business_hours_end": {
            "x-order": 4, "type": "string", "title": "Business hours end", "format": "time-of-day", "default": "17:00",
            "pattern": "^([01][0-9]|2[0-3]):[0-5][0-9]$",
        },
    },
    "x-ordered": [["business_hours_start", "business_hours_end"]],
}


class GoogleCalendarTool(BaseTool):
    metadata = ToolMetadata(
        name="Google_calendar",
        description="Check availability and book or cancel appointments in a Google Calendar.",
        requires_auth=True,
        auth_type="oauth2",
        auth_config={"provider": "google", "scopes": list(CALENDAR_SCOPES)},
        config_schema=CONFIG_SCHEMA,
    )

    # -- functions the model sees -------------------------------------------
    @function_tool()
    async def list_upcoming_events(self, context: RunContext, max_results: int = 10, days_ahead: int = 7) -> dict:
        """List the upcoming events in the calendar.

        Args:
            max_results: How many events to return at most (1-50).
            days_ahead: How many days ahead to look.
        """
        rt = self.runtime(context)
        now = datetime.now(timezone.utc)
        params = {
            "calendarId": self._calendar_id(rt), "timeMin": _rfc3339(now),
            "timeMax": _rfc3339(now + timedelta(days=max(1, min(days_ahead, 90)))),
            "singleEvents": True, "orderBy": "startTime", "maxResults": max(1, min(max_results, 50)),
        }
        body = await self._call(rt, lambda svc: svc.events().list(**params).execute())
        return {"events": [_event_view(e) for e in body.get("items", []) if e.get("status") != "cancelled"]}

    @function_tool()
    async def check_availability(self, context: RunContext, start_time: str, end_time: str | None = None) -> dict:
        """Check whether the calendar is free during a time window.

        Args:
            start_time: Start of the window, ISO 8601 (e.g. 2026-12-01T10:00); without an offset the configured time zone applies.
            end_time: End of the window, ISO 8601; defaults to start plus the default appointment length.
        """
        rt = self.runtime(context)
        start = self._parse(rt, start_time, "start_time")
        end = self._parse(rt, end_time, "end_time") if end_time else start + self._default_duration(rt)
        if end <= start:
            raise ToolError("The end of the window must be after its start.")
        busy = await self._busy(rt, start, end)
        return {"available": not busy, "busy": busy, "time_zone": self._zone(rt).key}

    @function_tool()
    async def book_appointment(
        self,
        context: RunContext,
        title: str,
        start_time: str,
        duration_minutes: int | None = None,
        attendee_email: str | None = None,
        notes: str | None = None,
    ) -> dict:
        """Book an appointment if the slot is free. Repeating the same request does not book twice.

        Args:
            title: Short title of the appointment, e.g. the caller's name and reason.
            start_time: Start, ISO 8601 (e.g. 2026-12-01T10:00); without an offset the configured time zone applies.
            duration_minutes: Length in minutes; defaults to the configured appointment length.
            attendee_email: The caller's e-mail address, to send them an invitation.
            notes: Anything the business should know.
        """
        rt = self.runtime(context)
        start = self._parse(rt, start_time, "start_time")
        duration = timedelta(minutes=duration_minutes) if duration_minutes else self._default_duration(rt)
        if not timedelta(minutes=5) <= duration <= timedelta(hours=8):
            raise ToolError("An appointment must last between 5 minutes and 8 hours.")
        end = start + duration
        self._check_business_hours(rt, start, end)
        request_key = hashlib.sha256(
            f"{rt.agent_tool_id}|{start.isoformat()}|{end.isoformat()}|{title.strip().lower()}|{(attendee_email or '').lower()}".encode()
        ).hexdigest()
        return await self._book(rt, request_key, title, start, end, attendee_email, notes)

    @function_tool()
    async def cancel_appointment(self, context: RunContext, event_id: str) -> dict:
        """Cancel an appointment that this assistant booked earlier.

        Args:
            event_id: The event id returned when the appointment was booked.
        """
        rt = self.runtime(context)
        cal = self._calendar_id(rt)
        event = await self._get_event(rt, event_id)
        if event is None or not _ours(event, rt):
            raise ToolError("I can only cancel appointments that I booked, and I could not find that one.")
        if event.get("status") == "cancelled":
            return {"cancelled": True, "event_id": event_id, "already_cancelled": True}
        await self._call(rt, lambda svc: svc.events().delete(calendarId=cal, eventId=event_id, sendUpdates="all").execute())
        return {"cancelled": True, "event_id": event_id}

    # -- booking ------------------------------------------------------------
    async def _book(self, rt: ToolRuntime, request_key: str, title, start, end, attendee_email, notes) -> dict:
        cal = self._calendar_id(rt)
        event_id = "vp" + request_key[:40]  # Google ids are base32hex: hex digits qualify
        for _attempt in range(3):
            existing = await self._get_event(rt, event_id)
            if existing is not None and existing.get("status") != "cancelled":
                return {"booked": True, "already_booked": True, **_event_view(existing)}
            if existing is not None:  # a cancelled booking keeps its id forever: derive the rebooking's id
                event_id = "vp" + hashlib.sha256((event_id + "|rebook").encode()).hexdigest()[:40]
                continue
            if await self._busy(rt, start, end):
                raise ToolError("That time is already taken. Offer the caller another time.")
            body = {
                "id": event_id,
                "summary": title,
                "description": notes or "",
                "start": {"dateTime": _rfc3339(start), "timeZone": self._zone(rt).key},
                "end": {"dateTime": _rfc3339(end), "timeZone": self._zone(rt).key},
                "extendedProperties": {"private": {MARKER: str(rt.agent_tool_id), REQUEST_KEY: request_key}},
            }
            if attendee_email:
                body["attendees"] = [{"email": attendee_email}]
            try:
                created = await self._call(rt, lambda svc: svc.events().insert(calendarId=cal, body=body, sendUpdates="all").execute(), passthrough=(409,))
            except HttpError:  # 409: a concurrent retry created it first; the loop returns it
                continue
            return {"booked": True, "already_booked": False, **_event_view(created)}
        raise ToolError("I could not book that appointment; please try again.")

    async def _get_event(self, rt: ToolRuntime, event_id: str) -> dict | None:
        cal = self._calendar_id(rt)
        try:
            return await self._call(rt, lambda svc: svc.events().get(calendarId=cal, eventId=event_id).execute(), passthrough=(404, 410))
        except HttpError:
            return None

    async def _busy(self, rt: ToolRuntime, start: datetime, end: datetime) -> list[dict]:
        cal = self._calendar_id(rt)
        body = {"timeMin": _rfc3339(start), "timeMax": _rfc3339(end), "items": [{"id": cal}]}
        result = await self._call(rt, lambda svc: svc.freebusy().query(body=body).execute())
        calendar = result.get("calendars", {}).get(cal, {})
        if calendar.get("errors"):
            raise ToolError("Google Calendar could not report availability for this calendar.")
        return calendar.get("busy", [])

    # -- plumbing -------------------------------------------------------------
    async def _call(self, rt: ToolRuntime, request, passthrough: tuple[int, ...] = ()) -> Any:
        return await asyncio.to_thread(self._call_sync, rt, request, passthrough)

    def _call_sync(self, rt: ToolRuntime, request, passthrough: tuple[int, ...]) -> Any:
        tokens = rt.secrets.get("oauth") or {}
        if not tokens.get("token") and not tokens.get("refresh_token"):
            raise ToolError(NOT_CONNECTED)
        creds = credentials_from_tokens(tokens)
        before = creds.token
        try:
            if not creds.valid and creds.refresh_token:
                creds.refresh(Request())
            result = request(calendar_service(creds))
        except RefreshError as exc:
            log.warning("google token refresh refused for agent_tool %s: %s", rt.agent_tool_id, exc.__class__.__name__)
            raise ToolError(REVOKED) from exc
        except HttpError as exc:
            status = exc.resp.status
            if status in passthrough:
                raise
            if status in (401, 403):
                raise ToolError(REVOKED if status == 401 else "Google Calendar refused access to this calendar.") from exc
            log.warning("google calendar error %s for agent_tool %s", status, rt.agent_tool_id)
            raise ToolError("Google Calendar is not answering properly right now; please try again later.") from exc
        except OSError as exc:
            raise ToolError("Google Calendar cannot be reached right now; please try again later.") from exc
        finally:
            if creds.token != before and creds.token:
                self._save_tokens(rt, creds)
        return result

    def _save_tokens(self, rt: ToolRuntime, creds) -> None:
        rt.secrets = {**rt.secrets, "oauth": {**rt.secrets.get("oauth", {}), **tokens_from_credentials(creds)}}
        if rt.persist_secrets is not None:
            try:
                rt.persist_secrets(rt.secrets)
            except Exception:  # the call goes on with the fresh token in memory
                log.exception("could not persist refreshed Google token for agent_tool %s", rt.agent_tool_id)

    def _calendar_id(self, rt: ToolRuntime) -> str:
        return self.config_value(rt, "calendar_id")

    def _zone(self, rt: ToolRuntime) -> ZoneInfo:
        try:
            return ZoneInfo(self.config_value(rt, "time_zone"))
        except (ZoneInfoNotFoundError, ValueError):
            return ZoneInfo("UTC")

    def _default_duration(self, rt: ToolRuntime) -> timedelta:
        return timedelta(minutes=int(self.config_value(rt, "default_duration_minutes")))

    def _parse(self, rt: ToolRuntime, value: str, name: str) -> datetime:
        try:
            parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except (ValueError, AttributeError) as exc:
            raise ToolError(f"{name} must be a date and time like 2026-12-01T10:00.") from exc
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=self._zone(rt))

    def _check_business_hours(self, rt: ToolRuntime, start: datetime, end: datetime) -> None:
        zone = self._zone(rt)
        opens = time.fromisoformat(self.config_value(rt, "business_hours_start"))
        closes = time.fromisoformat(self.config_value(rt, "business_hours_end"))
        local_start, local_end = start.astimezone(zone), end.astimezone(zone)
        if local_start.date() != local_end.date() or local_start.time() < opens or local_end.time() > closes:
            raise ToolError(f"Appointments can only be booked between {opens:%H:%M} and {closes:%H:%M} ({zone.key}).")


def _ours(event: dict, rt: ToolRuntime) -> bool:
    private = (event.get("extendedProperties") or {}).get("private") or {}
    return private.get(MARKER) == str(rt.agent_tool_id)


def _rfc3339(value: datetime) -> str:
    return value.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")


def _event_view(event: dict) -> dict:
    return {
        "event_id": event.get("id"),
        "title": event.get("summary", ""),
        "start": (event.get("start") or {}).get("dateTime") or (event.get("start") or {}).get("date"),
        "end": (event.get("end") or {}).get("dateTime") or (event.get("end") or {}).get("date"),
        "link": event.get("htmlLink"),
    }
