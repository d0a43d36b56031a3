"""Incoming calls written the way another backend process would write them, for races."""

from __future__ import annotations

from voice_platform.services import calls, incoming_calls


def open_session_alone(call_sid: str, from_number: str | None, to_number: str | None,
                       trace_context: str | None = None) -> calls.RoutedCall:
    """One call, written now on connections of its own (the writer's unbatched path), as a
    second web process would write it while this one's writer thread writes others."""
    connections = incoming_calls._Connections()  # noqa: SLF001 - the writer's own path, without its thread
    try:
        return incoming_calls._route(connections, (call_sid, from_number, to_number, trace_context))  # noqa: SLF001
    finally:
        connections.close()
