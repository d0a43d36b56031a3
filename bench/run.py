"""Runs every ``bench/bench_*.py`` and writes their sections to bench/RESULTS.md.

Each benchmark module exposes ``main() -> str`` returning a Markdown section that
states what was measured, against which baseline (run side by side in the same
process, since these machines are noisy), and the figures.
Usage: ``make bench`` or ``python -m bench.run [name ...]``.
"""

from __future__ import annotations

import importlib
import platform
import sys
from datetime import datetime, timezone
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main(argv: list[str]) -> int:
    names = argv or sorted(p.stem.removeprefix("bench_") for p in HERE.glob("bench_*.py"))
    sections = []
    for name in names:
        module = importlib.import_module(f"bench.bench_{name}")
        print(f"running bench_{name} ...", flush=True)
        sections.append(module.main().strip())
    header = (
        "# Benchmark results\n\n"
        f"Produced by `make bench` (`python -m bench.run {' '.join(argv)}`) on "
        f"{datetime.now(timezone.utc):%Y-%m-%d %H:%M UTC}, Python {platform.python_version()}, "
        f"{platform.machine()}, {_cpu_count()} cores.\n"
    )
    (HERE / "RESULTS.md").write_text(header + "\n" + "\n\n".join(sections) + "\n")
    print((HERE / "RESULTS.md").read_text())
    return 0


def _cpu_count() -> int:
    import os

    return os.cpu_count() or 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
