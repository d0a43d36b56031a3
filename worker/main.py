"""The worker process: livekit-agents' CLI around our entrypoint (``python -m worker dev|start``).

Settings come from our one Settings object (environment or ``.env``) and are handed to
``WorkerOptions`` explicitly: livekit's CLI reads only the process environment, so a
``.env`` file alone would otherwise leave it without a URL. The settings a call needs
are checked before anything starts, so a worker without them exits at once with a
message naming them, instead of registering and failing on the first caller.
"""

from __future__ import annotations

import logging
import sys

from voice_platform.settings import Settings, get_settings

log = logging.getLogger(__name__)

# (environment name, Settings attribute): what answering a phone call needs.
REQUIRED = (
    ("LIVEKIT_URL", "livekit_url"),
    ("LIVEKIT_API_KEY", "livekit_api_key"),
    ("LIVEKIT_API_SECRET", "livekit_api_secret"),
    ("GOOGLE_API_KEY", "google_api_key"),
)
# Subcommands that only print (help) need nothing; every other one runs the worker.
_NO_CHECK = {"--help", "-h", "--install-completion", "--show-completion"}
EXIT_CONFIG = 2


def missing_settings(settings: Settings) -> list[str]:
    return [env for env, attr in REQUIRED if not (getattr(settings, attr) or "").strip()]


def prewarm(proc) -> None:
    """Runs once per job process before its first call: what does not change per call.

    The tool registry's discovery and schemas, the runtime's imports (the Gemini plugin
    is the heaviest), and a first database connection in the pool. A database that is
    down here is only logged: the call itself reports it, with the caller hung up politely.
    """
    from sqlalchemy import text

    from voice_platform.db import get_engine
    from voice_platform.tools.registry import default_registry
    import worker.entrypoint  # noqa: F401  (imports the runtime and the Gemini plugin)
    from voice_platform import telemetry

    telemetry.install_log_ids()
    try:
        telemetry.setup("worker")  # one per job process; LiveKit's spans join it
    except Exception:  # noqa: BLE001 - a bad OTEL_* setting never stops calls
        log.exception("telemetry could not start; calls go on without it")

    for name in default_registry.tool_classes():
        default_registry.function_schemas(name)
    try:
        with get_engine().connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:  # noqa: BLE001 - logged, the job reports it per call
        log.warning("prewarm: database not reachable yet (%s)", exc.__class__.__name__)
    proc.userdata["prewarmed"] = True


def build_options(settings: Settings):
    from livekit.agents import WorkerOptions

    from worker.entrypoint import entrypoint

    return WorkerOptions(
        entrypoint_fnc=entrypoint,
        prewarm_fnc=prewarm,
        agent_name=settings.livekit_agent_name,  # explicit dispatch: the SIP dispatch rule names it
        ws_url=settings.livekit_url,
        api_key=settings.livekit_api_key,
        api_secret=settings.livekit_api_secret,
    )


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        settings = get_settings()
    except ValueError as exc:  # pydantic's ValidationError: a malformed or refused value
        print(f"The worker cannot start: the settings are invalid.\n{exc}", file=sys.stderr)
        return EXIT_CONFIG
    if args and not (set(args) & _NO_CHECK):
        missing = missing_settings(settings)
        if missing:
            print(
                "The worker cannot start: set " + ", ".join(missing)
                + " (in the environment or in .env). See .env.example.",
                file=sys.stderr,
            )
            return EXIT_CONFIG
    from livekit.agents import cli

    sys.argv = [sys.argv[0], *args]
    cli.run_app(build_options(settings))
    return 0
