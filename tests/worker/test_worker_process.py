"""The worker process refuses to start without the settings a call needs, naming them."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CALL_SETTINGS = ("LIVEKIT_URL", "LIVEKIT_API_KEY", "LIVEKIT_API_SECRET", "GOOGLE_API_KEY")


def _run(args: list[str], tmp_path: Path, **overrides: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in CALL_SETTINGS}
    env.update({name: "" for name in CALL_SETTINGS})  # empty means unset (env_ignore_empty)
    env.update(overrides)
    env["PYTHONPATH"] = str(ROOT)
    # cwd without a .env, so only this environment decides
    return subprocess.run([sys.executable, "-m", "worker", *args], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=60)


def test_start_without_settings_names_every_missing_one(tmp_path):
    result = _run(["start"], tmp_path)

    assert result.returncode == 2, result.stderr
    assert "The worker cannot start: set LIVEKIT_URL, LIVEKIT_API_KEY, LIVEKIT_API_SECRET, GOOGLE_API_KEY" in result.stderr
    assert "Traceback" not in result.stderr


def test_dev_names_only_what_is_missing(tmp_path):
    result = _run(["dev"], tmp_path, LIVEKIT_URL="ws://127.0.0.1:7880", LIVEKIT_API_KEY="devkey",
                  LIVEKIT_API_SECRET="secret-value-not-printed")

    assert result.returncode == 2
    assert "set GOOGLE_API_KEY (in the environment or in .env)" in result.stderr
    assert "LIVEKIT_URL" not in result.stderr and "secret-value-not-printed" not in result.stderr


def test_help_needs_no_settings_and_is_livekits_cli(tmp_path):
    result = _run(["start", "--help"], tmp_path)

    assert result.returncode == 0, result.stderr
    assert "--log-level" in result.stdout


def test_options_register_the_dispatch_rules_agent_name():
    from voice_platform.settings import Settings
    from worker.main import build_options, prewarm

    settings = Settings(livekit_url="wss://lk.example", livekit_api_key="k", livekit_api_secret="s",
                        google_api_key="g", livekit_agent_name="front-desk-agent")
    options = build_options(settings)

    assert (options.agent_name, options.ws_url, options.api_key, options.api_secret) == (
        "front-desk-agent", "wss://lk.example", "k", "s")
    assert options.prewarm_fnc is prewarm and options.entrypoint_fnc.__module__ == "worker.entrypoint"
