"""The house's import rules (DESIGN.md, rule 1) hold: import-linter checks the contracts in
``.importlinter`` on the real source tree: layers only import downwards, services import no
framework, the web process never imports the worker, and no import circle at any depth."""

from __future__ import annotations

import configparser
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / ".importlinter"


def _lint(config: Path, cwd: Path) -> subprocess.CompletedProcess:
    lint = Path(sys.executable).with_name("lint-imports")
    return subprocess.run([str(lint), str(config), "--no-cache"], cwd=cwd, capture_output=True,
                          text=True, timeout=120, env={**os.environ, "PYTHONPATH": str(cwd)})


def test_import_contracts_are_kept():
    result = _lint(CONFIG, ROOT)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert "BROKEN" not in result.stdout


def _layered_names() -> set[str]:
    parser = configparser.ConfigParser()
    parser.read(CONFIG)
    names = set()
    for line in parser["importlinter:contract:layers"]["layers"].split("\n"):
        names.update(part.strip().strip("()") for part in line.split("|") if part.strip())
    return names


def test_every_part_of_the_product_sits_in_a_layer():
    """A new package or module added beside the others is in the layers contract, so the rule
    covers it the day it lands (a part outside every layer could import anything)."""
    parts = {f"voice_platform.{p.stem}" for p in (ROOT / "voice_platform").iterdir()
             if (p.suffix == ".py" and p.stem != "__init__") or (p / "__init__.py").exists()}
    assert parts - _layered_names() == set()


def test_the_contract_catches_an_upward_import(tmp_path):
    """The same contracts on a copy of the tree where a service imports the API: broken."""
    import shutil

    copy = tmp_path / "tree"
    for name in ("voice_platform", "worker"):
        shutil.copytree(ROOT / name, copy / name, ignore=shutil.ignore_patterns("__pycache__"))
    with (copy / "voice_platform" / "services" / "audit.py").open("a") as module:
        module.write("\nfrom voice_platform.api import deps  # noqa: E402,F401\n")
    result = _lint(CONFIG, copy)
    assert result.returncode != 0
    assert "voice_platform.services.audit -> voice_platform.api.deps" in result.stdout.replace("\n", "")
