"""TwiML the voice webhooks answer, built as strings.

Twilio waits on these responses while the caller hears ringing, and the incoming
webhook answers every call, so the documents are formatted directly (every value
escaped for XML) instead of through ``twilio.twiml``'s element tree; the tests parse
each one as XML. Every document that does not connect the caller says one short
sentence and hangs up: never silence, never an HTTP error to Twilio.
"""

from __future__ import annotations

from urllib.parse import quote
from xml.sax.saxutils import escape, quoteattr

# The SIP header that carries our call session id; LiveKit's trunk maps it to an attribute.
SESSION_HEADER = "X-Vp-Session"
# Sent with the session id when a call comes back to its agent (a warm transfer nobody took):
# a token proving the session may be answered again (services.warm_transfer).
RESUME_HEADER = "X-Vp-Resume"

HEAD = '<?xml version="1.0" encoding="UTF-8"?><Response>'
TAIL = "</Response>"

# What the caller hears when there is no conversation to connect them to.
NOT_IN_SERVICE = "Sorry, this number is not in service. Goodbye."
UNAVAILABLE = "Sorry, this line is not taking calls right now. Goodbye."
TECHNICAL_PROBLEM = "Sorry, we are having technical difficulties. Please call again later. Goodbye."
APOLOGY = "Sorry, we could not connect your call. Please call again later. Goodbye."
ALL_LINES_BUSY = "Sorry, all our lines are busy right now. Please call again in a few minutes. Goodbye."

SPOKEN_REFUSALS = {
    "invalid_number": NOT_IN_SERVICE,
    "unknown_number": NOT_IN_SERVICE,
    "inactive_agent": UNAVAILABLE,
    "over_concurrency": ALL_LINES_BUSY,  # services.billing: the plan's concurrent calls are all in use
    "minutes_exhausted": UNAVAILABLE,  # the plan's minute cap for this period is reached
}


def say_and_hang_up(sentence: str) -> str:
    return f"{HEAD}<Say>{escape(sentence)}</Say><Hangup/>{TAIL}"


def hang_up() -> str:
    return f"{HEAD}<Hangup/>{TAIL}"


def sip_uri(number: str, domain: str, session_id: str, resume: str | None = None) -> str:
    """``sip:NUMBER@DOMAIN;transport=tcp?X-Vp-Session=ID``: Twilio sends URI headers as SIP X- headers.

    The number is the dialed one (LiveKit's trunk matches it); the session id is a UUID,
    URL-safe as it is, quoted anyway so the URI can never be broken by a value. ``resume``: the
    token of a call coming back to its agent, as a second header.
    """
    uri = f"sip:{quote(number, safe='+')}@{domain};transport=tcp?{SESSION_HEADER}={quote(session_id, safe='-')}"
    return uri if resume is None else f"{uri}&{RESUME_HEADER}={quote(resume, safe='-_.')}"


def dial_sip(
    *, uri: str, username: str | None, password: str | None, action_url: str,
    record: bool = False, recording_callback_url: str | None = None, notice: str | None = None,
) -> str:
    """Bridge the caller into LiveKit; the Dial ``action`` hears how the SIP leg ended."""
    say = f"<Say>{escape(notice)}</Say>" if notice else ""
    dial_attrs = f' answerOnBridge="true" action={quoteattr(action_url)} method="POST"'
    if record:
        dial_attrs += ' record="record-from-answer-dual"'
        if recording_callback_url:
            dial_attrs += (f" recordingStatusCallback={quoteattr(recording_callback_url)}"
                           ' recordingStatusCallbackMethod="POST" recordingStatusCallbackEvent="completed"')
    sip_attrs = ""
    if username and password:
        sip_attrs = f" username={quoteattr(username)} password={quoteattr(password)}"
    return f"{HEAD}{say}<Dial{dial_attrs}><Sip{sip_attrs}>{escape(uri)}</Sip></Dial>{TAIL}"
