"""Operator commands: ``python -m voice_platform.cli <command>``."""

from __future__ import annotations

import argparse
import sys

from voice_platform.db import session_scope
from voice_platform.settings import get_settings


def _bootstrap(_args: argparse.Namespace) -> int:
    from voice_platform.services.bootstrap import ensure_first_admin

    with session_scope() as session:
        created = ensure_first_admin(session)
    settings = get_settings()
    if created is None:
        print("Database already initialised; sign in with your account.")
    else:
        print("=" * 64)
        print("First run: created the platform admin and a demo organization.")
        print(f"  e-mail:       {created.email}")
        print(f"  password:     {created.password}")
        print(f"  organization: {created.organization_name}")
        print("This password is shown once. Change it after signing in.")
        print("=" * 64)
    print(f"Dashboard: {settings.public_base_url}")
    return 0


def _rotate_keys(_args: argparse.Namespace) -> int:
    """Re-encrypt every stored secret under the first key of ENCRYPTION_KEYS."""
    from voice_platform.services.secrets import rotate_all

    with session_scope() as session:
        report = rotate_all(session)
    print(f"Re-encrypted {report.agent_tools} tool secret(s), {report.custom_tools} custom tool header set(s), "
          f"{report.webhook_secrets} webhook signing secret(s) and {report.oauth_states} pending OAuth verifier(s) "
          "under the newest key.")
    return 0


def _livekit_setup(_args: argparse.Namespace) -> int:
    """Install LiveKit's inbound SIP trunk (the platform's numbers) and its dispatch rule.

    0 done, 1 LiveKit unreachable or refusing, 2 settings missing. The numbers are read here,
    through the inventory service, and handed to the adapter, which only talks to LiveKit.
    """
    from voice_platform.services.number_inventory import platform_numbers
    from voice_platform.telephony import livekit_sip

    settings = get_settings()
    missing = livekit_sip.missing_settings(settings)
    if missing:
        print(f"livekit-setup: missing settings: {', '.join(missing)} (set them in .env or the environment)", file=sys.stderr)
        return 2
    with session_scope() as session:
        numbers = platform_numbers(session)
    try:
        result = livekit_sip.run_setup(settings, numbers)
    except livekit_sip.LiveKitSetupError as exc:
        print(f"livekit-setup: {exc}", file=sys.stderr)
        return 1
    print(f"LiveKit SIP at {settings.livekit_url}:")
    print(result.summary())
    return 0


def _background(_args: argparse.Namespace) -> int:
    """Run the background loops in this process until SIGTERM or Ctrl-C (``startup.serve_background_work``)."""
    import logging
    import signal
    import threading

    from voice_platform import startup

    logging.basicConfig(level=logging.INFO)
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    startup.serve_background_work(stop)
    return 0


COMMANDS = {"bootstrap": _bootstrap, "rotate-keys": _rotate_keys, "livekit-setup": _livekit_setup,
            "background": _background}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="voice_platform.cli")
    parser.add_argument("command", choices=sorted(COMMANDS))
    args = parser.parse_args(argv)
    return COMMANDS[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
