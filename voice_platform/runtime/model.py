"""The Gemini Live model one conversation runs on, configured the same for a call and a test chat.

Session resumption and context-window compression are always on: a Gemini Live
connection lasts about 10-15 minutes (and audio sessions fill the context fast), so
a longer call reconnects with the last resumption handle (the plugin does it by
itself on ``goAway`` or a dropped socket) and old turns are compressed away instead
of the session ending. The endpoint is never hard-coded: google-genai's standard
``GOOGLE_GEMINI_BASE_URL`` (and ``SSL_CERT_FILE``) point it elsewhere, as tests and
staging do.
"""

from __future__ import annotations

from dataclasses import dataclass

from google.genai import types
from livekit.plugins.google.realtime import RealtimeModel

from voice_platform.settings import get_settings

# Compress once the context holds this many tokens, down to the target (Gemini Live's
# audio models hold 128k; leave room for the instructions and tool declarations).
COMPRESSION_TRIGGER_TOKENS = 100_000
COMPRESSION_TARGET_TOKENS = 60_000


class ModelNotConfigured(RuntimeError):
    """No GOOGLE_API_KEY: there is nothing to talk to."""

    setting = "GOOGLE_API_KEY"


@dataclass(frozen=True)
class ModelChoice:
    model: str
    voice: str
    language: str


def require_api_key() -> None:
    """Refuse early, with the setting's name, when there is no Gemini key."""
    if not get_settings().google_api_key:
        raise ModelNotConfigured("GOOGLE_API_KEY is not set: the agent has no model to talk with")


def realtime_model(choice: ModelChoice) -> RealtimeModel:
    settings = get_settings()
    require_api_key()
    optional = {"language": choice.language} if choice.language else {}
    return RealtimeModel(
        model=choice.model or settings.gemini_model,
        api_key=settings.google_api_key,
        voice=choice.voice or "Puck",
        **optional,
        session_resumption=types.SessionResumptionConfig(),
        context_window_compression=types.ContextWindowCompressionConfig(
            trigger_tokens=COMPRESSION_TRIGGER_TOKENS,
            sliding_window=types.SlidingWindow(target_tokens=COMPRESSION_TARGET_TOKENS),
        ),
    )
