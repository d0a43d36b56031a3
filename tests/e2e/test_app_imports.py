"""The dashboard process must stay light: importing the Reflex app never pulls in LiveKit.

Kept next to the browser tests because it guards the same app they start; it runs
in a fresh interpreter so modules imported by other tests cannot hide a regression.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

PROBE = """
import sys
import voice_platform.voice_platform as app_module
assert app_module.app is not None
print(",".join(sorted({m.split(".")[0] for m in sys.modules if m.split(".")[0].startswith("livekit")})))
"""


def test_reflex_app_import_does_not_import_livekit():
    out = subprocess.run([sys.executable, "-c", PROBE], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.strip() == "", f"the Reflex app imported {out.stdout.strip()}"
