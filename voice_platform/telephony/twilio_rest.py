"""Twilio's REST API, the one way in: numbers (search, buy, import, release), placing and updating calls.

Every request goes through ``client()``: the real ``twilio.rest.Client`` with the account's
credentials and an HTTP client bounded by a timeout, so a hanging Twilio never holds a
dashboard event or an API request for long. ``http_client_factory`` is the single seam tests
replace to point the real client at a fake Twilio on 127.0.0.1.

Failures become domain errors the API and the dashboard already know how to show:
no credentials -> ``TwilioNotConfigured`` (503, naming the two settings), Twilio refusing or
not answering -> ``TwilioUnavailable`` (502, with Twilio's own message). No business rules
here: which organization may own a number is decided in ``services.phone_numbers``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from voice_platform.errors import DomainError, IntegrationNotConfigured
from voice_platform.settings import get_settings
from voice_platform.telephony.urls import incoming_url, status_callback_url

HTTP_TIMEOUT_SECONDS = 10.0
SEARCH_LIMIT = 20
RING_SECONDS = 25  # an outbound call rings this long before Twilio reports no-answer
CALL_EVENTS = ["initiated", "ringing", "answered", "completed"]
OWNED_LIMIT = 500  # an account's numbers listed for import; far more than a small team owns
NOT_CONFIGURED = "Buying and importing numbers needs Twilio: set TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN"


class TwilioNotConfigured(IntegrationNotConfigured):
    """503: the platform has no Twilio account configured."""


class TwilioUnavailable(DomainError):
    """502: Twilio refused the request or did not answer; the message is Twilio's."""

    status_code = 502


def _default_http_client(timeout: float):
    from twilio.http.http_client import TwilioHttpClient

    return TwilioHttpClient(timeout=timeout)


# (timeout seconds) -> a twilio HttpClient. Tests swap it for one that talks to a fake.
http_client_factory: Callable[[float], Any] = _default_http_client


def is_configured() -> bool:
    settings = get_settings()
    return bool(settings.twilio_account_sid and settings.twilio_auth_token)


def client(timeout: float = HTTP_TIMEOUT_SECONDS):
    """The Twilio REST client for the platform's account; TwilioNotConfigured without credentials."""
    settings = get_settings()
    if not (settings.twilio_account_sid and settings.twilio_auth_token):
        raise TwilioNotConfigured(NOT_CONFIGURED)
    from twilio.rest import Client

    twilio = Client(settings.twilio_account_sid, settings.twilio_auth_token, http_client=http_client_factory(timeout))
    # twilio-python builds each request's URL from ``client.api.base_url``: TWILIO_API_BASE_URL.
    twilio.api.base_url = settings.twilio_api_base_url.rstrip("/")
    return twilio


@contextmanager
def _twilio(action: str) -> Iterator[None]:
    """Translate the client's exceptions into TwilioUnavailable with a message a person can act on."""
    from requests import RequestException
    from twilio.base.exceptions import TwilioException, TwilioRestException

    try:
        yield
    except TwilioRestException as exc:
        detail = str(exc.msg or "").split(": ", 1)[-1] or f"HTTP {exc.status}"
        raise TwilioUnavailable(f"Twilio could not {action}: {detail}") from exc
    except RequestException as exc:
        raise TwilioUnavailable(f"Twilio did not answer ({type(exc).__name__}); try again later") from exc
    except TwilioException as exc:
        raise TwilioUnavailable(f"Twilio could not {action}: {exc}") from exc


@dataclass(frozen=True)
class AvailableNumber:
    e164: str
    friendly_name: str
    locality: str
    region: str
    iso_country: str


@dataclass(frozen=True)
class OwnedNumber:
    sid: str
    e164: str
    friendly_name: str
    voice_url: str
    status_callback: str


def _owned(record) -> OwnedNumber:
    return OwnedNumber(sid=record.sid, e164=record.phone_number, friendly_name=record.friendly_name or "",
                       voice_url=record.voice_url or "", status_callback=record.status_callback or "")


def _our_webhooks() -> dict[str, str]:
    """What a number must point at so its calls reach us (see telephony.urls)."""
    return {"voice_url": incoming_url(), "voice_method": "POST",
            "status_callback": status_callback_url(), "status_callback_method": "POST"}


def search_available(country: str, *, area_code: str | None = None, contains: str | None = None,
                     limit: int = SEARCH_LIMIT) -> list[AvailableNumber]:
    """Local numbers Twilio offers in ``country`` (AvailablePhoneNumbers/{country}/Local)."""
    filters: dict[str, Any] = {}
    if area_code:
        filters["area_code"] = int(area_code)
    if contains:
        filters["contains"] = contains
    twilio = client()
    with _twilio("search numbers"):
        found = twilio.available_phone_numbers(country).local.list(limit=limit, **filters)
    return [AvailableNumber(e164=n.phone_number, friendly_name=n.friendly_name or n.phone_number,
                            locality=n.locality or "", region=n.region or "", iso_country=n.iso_country or country)
            for n in found]


def buy(e164: str) -> OwnedNumber:
    """Buy ``e164`` for the account, its voice URL and status callback pointing at us."""
    twilio = client()
    with _twilio("buy this number"):
        return _owned(twilio.incoming_phone_numbers.create(phone_number=e164, **_our_webhooks()))


def list_owned(limit: int = OWNED_LIMIT) -> list[OwnedNumber]:
    """Every number the account owns (IncomingPhoneNumbers)."""
    twilio = client()
    with _twilio("list the account's numbers"):
        return [_owned(n) for n in twilio.incoming_phone_numbers.list(limit=limit)]


def find_owned(*, e164: str | None = None, sid: str | None = None) -> OwnedNumber | None:
    """The account's number by E.164 or by SID; None when the account has no such number."""
    from twilio.base.exceptions import TwilioRestException

    twilio = client()
    with _twilio("look the number up"):
        if sid:
            try:
                return _owned(twilio.incoming_phone_numbers(sid).fetch())
            except TwilioRestException as exc:
                if exc.status == 404:
                    return None
                raise
        found = twilio.incoming_phone_numbers.list(phone_number=e164, limit=1)
    return _owned(found[0]) if found else None


def point_at_us(sid: str) -> OwnedNumber:
    """Set an owned number's voice URL and status callback to ours (importing it)."""
    twilio = client()
    with _twilio("update the number's webhooks"):
        return _owned(twilio.incoming_phone_numbers(sid).update(**_our_webhooks()))


def release(sid: str) -> None:
    """Give the number back to Twilio. Already gone (404) counts as released."""
    from twilio.base.exceptions import TwilioRestException

    twilio = client()
    with _twilio("release the number"):
        try:
            twilio.incoming_phone_numbers(sid).delete()
        except TwilioRestException as exc:
            if exc.status != 404:
                raise


def update_call_twiml(call_sid: str, twiml: str, *, timeout: float = HTTP_TIMEOUT_SECONDS) -> None:
    """Give a live call new TwiML (Calls(sid).update): how call control transfers a caller."""
    twilio = client(timeout)
    with _twilio("update the call"):
        twilio.calls(call_sid).update(twiml=twiml)


def create_call(*, to: str, from_: str, url: str, status_callback: str, amd_callback: str,
                ring_seconds: int = RING_SECONDS, timeout: float = HTTP_TIMEOUT_SECONDS) -> str:
    """Place an outbound call (Calls.create); its CallSid.

    Twilio POSTs ``url`` when the callee answers (our TwiML bridges them into LiveKit), every
    stage to ``status_callback``, and runs answering-machine detection beside the call
    (``async_amd``): the callee hears the agent at once instead of the silence a synchronous
    detection costs, and ``amd_callback`` learns at the greeting's end (DetectMessageEnd) whether
    a machine took the call, when a message left is recorded whole.
    """
    twilio = client(timeout)
    with _twilio("place the call"):
        call = twilio.calls.create(
            to=to, from_=from_, url=url, method="POST",
            status_callback=status_callback, status_callback_method="POST", status_callback_event=CALL_EVENTS,
            machine_detection="DetectMessageEnd", async_amd="true", async_amd_status_callback=amd_callback,
            async_amd_status_callback_method="POST", timeout=ring_seconds,
        )
    return call.sid
