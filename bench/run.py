"""Runs ``bench/bench_*.py`` and records their sections in bench/RESULTS.md.

Each benchmark module exposes ``main() -> str`` returning a Markdown section that
states what was measured, against which baseline (run side by side in the same
process, since these machines are noisy), and the figures.
Usage: ``make bench`` (all) or ``python -m bench.run NAME ...`` (some). Sections
of benchmarks not run this time are kept, each with the line saying when and
by which command it was produced.
"""

from __future__ import annotations

import importlib
import os
import platform
import re
import sys
from datetime import datetime, timezone
from pathlib import Path

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "RESULTS.md"
_BLOCK = re.compile(r"<!-- bench:(?P<name>\w+) -->\n(?P<body>.*?)<!-- /bench:(?P=name) -->", re.S)


def _existing() -> dict[str, str]:
    if not RESULTS.exists():
        return {}
    return {m["name"]: m["body"] for m in _BLOCK.finditer(RESULTS.read_text())}


def main(argv: list[str]) -> int:
    available = sorted(p.stem.removeprefix("bench_") for p in HERE.glob("bench_*.py"))
    names = argv or available
    blocks = _existing()
    command = "make bench" if not argv else f"python -m bench.run {' '.join(argv)}"
    for name in names:
        module = importlib.import_module(f"bench.bench_{name}")
        print(f"running bench_{name} ...", flush=True)
        section = module.main().strip()
        stamp = (
            f"_Produced by `{command}` on {datetime.now(timezone.utc):%Y-%m-%d %H:%M UTC}, "
            f"Python {platform.python_version()}, {platform.machine()}, {os.cpu_count()} cores._"
        )
        blocks[name] = f"{section}\n\n{stamp}\n"
    body = "\n".join(f"<!-- bench:{n} -->\n{blocks[n]}<!-- /bench:{n} -->\n" for n in available if n in blocks)
    RESULTS.write_text("# Benchmark results\n\nRun `make bench` to refresh every section.\n\n" + body)
    print(RESULTS.read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
