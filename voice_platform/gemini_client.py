"""One Gemini text request that must answer JSON of a given shape: the post-call analysis's adapter.

An adapter like ``google_client``: only google-genai and settings, so services may import it and
nothing here knows what a call is. google-genai finds its endpoint the standard way (the
``GOOGLE_GEMINI_BASE_URL`` environment variable when set, Google's own otherwise), which is how
tests point the real client at a fake on 127.0.0.1. The SDK's own retries stay off (its default):
the caller decides when to try again, with a lease, so a retry survives a restart.
"""

from __future__ import annotations

import json
import threading
from typing import Any

from google import genai
from google.genai import errors as genai_errors
from google.genai import types

from voice_platform.settings import get_settings

NO_KEY = "Post-call analysis needs GOOGLE_API_KEY"


class GeminiNotConfigured(Exception):
    """No API key: trying again cannot help until an operator sets one."""


class GeminiFailed(Exception):
    """The model did not give a usable answer this time (error, timeout, not the JSON asked for)."""

    def __init__(self, message: str, *, timed_out: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.timed_out = timed_out


def generate_json(model: str, system: str, prompt: str, response_schema: dict[str, Any],
                  timeout: float) -> dict[str, Any]:
    """The model's answer to ``prompt`` as a JSON object following ``response_schema`` (JSON Schema).

    ``timeout`` (seconds) bounds the whole request. Raises ``GeminiNotConfigured`` without a key
    and ``GeminiFailed`` for everything that may go better on another attempt.
    """
    settings = get_settings()
    api_key = settings.google_api_key
    if not api_key:
        raise GeminiNotConfigured(NO_KEY)
    config = types.GenerateContentConfig(
        system_instruction=system, temperature=0.0,
        response_mime_type="application/json", response_json_schema=response_schema,
    )
    try:
        client = _client(api_key, int(timeout * 1000), settings.google_gemini_base_url)
        response = client.models.generate_content(model=model, contents=prompt, config=config)
        text = response.text
    except genai_errors.APIError as exc:
        raise GeminiFailed(f"Gemini answered {exc.code}: {(exc.message or exc.status or '')[:200]}") from None
    except Exception as exc:  # the transport's own errors (httpx or httpx2): timeouts, refused connections
        if "timeout" in type(exc).__name__.lower():
            raise GeminiFailed(f"Gemini did not answer within {timeout:g} seconds", timed_out=True) from None
        raise GeminiFailed(f"Gemini could not be reached ({type(exc).__name__})") from None
    return _parsed(text)


_clients: dict[tuple[str, int, str | None], genai.Client] = {}
_clients_lock = threading.Lock()


def _client(api_key: str, timeout_ms: int, base_url: str | None) -> genai.Client:
    """One client per key, timeout and endpoint, kept: making one builds HTTP clients and loads the
    CA certificates (tens of ms of CPU), which every analysis would otherwise pay on the web process."""
    key = (api_key, timeout_ms, base_url)
    with _clients_lock:
        client = _clients.get(key)
        if client is None:
            options = types.HttpOptions(timeout=timeout_ms, base_url=base_url or None)
            client = _clients[key] = genai.Client(api_key=api_key, http_options=options)
        return client


def _parsed(text: str | None) -> dict[str, Any]:
    if not text:
        raise GeminiFailed("Gemini gave an empty answer")
    try:
        value = json.loads(text)
    except ValueError:
        raise GeminiFailed("Gemini's answer was not valid JSON") from None
    if not isinstance(value, dict):
        raise GeminiFailed("Gemini's answer was not a JSON object")
    return value
