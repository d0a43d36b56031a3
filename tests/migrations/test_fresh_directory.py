"""`make run` on a fresh clone: the embedded database's folder (data/) does not exist yet.

Runs Alembic exactly as the Makefile does (``python -m alembic upgrade head``, a new
process reading DATABASE_URL), then the bootstrap command, into a folder that is missing.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_migrate_and_bootstrap_create_the_sqlite_folder(tmp_path):
    database = tmp_path / "not-yet" / "there" / "voice_platform.db"
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{database}", "BOOTSTRAP_ADMIN_PASSWORD": "fresh-clone-password-1"}
    for command in (["-m", "alembic", "upgrade", "head"], ["-m", "voice_platform.cli", "bootstrap"]):
        done = subprocess.run([sys.executable, *command], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr[-2000:]
    assert database.exists()
