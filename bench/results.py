"""Write one section of bench/RESULTS.md, leaving the other sections as they are.

Every figure in RESULTS.md is written by a bench script through this function, never by hand.
"""
from __future__ import annotations

import os
import platform
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

RESULTS = Path(__file__).with_name("RESULTS.md")
HEADER = "# Benchmark results\n\nWritten by the scripts in `bench/`; re-run a script to refresh its section.\n"


def machine() -> str:
    cpu = ""
    try:
        cpu = next(l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name"))
    except (OSError, StopIteration):
        pass
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                            cwd=Path(__file__).parent).stdout.strip()
    return (f"{os.cpu_count()} cores ({cpu or platform.machine()}), Python {platform.python_version()}, "
            f"commit {commit or '?'}, {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC")


def write_section(name: str, title: str, body: str, command: str) -> None:
    start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
    block = f"{start}\n## {title}\n\nRe-run: `{command}`  \nMachine: {machine()}\n\n{body.strip()}\n{end}"
    text = RESULTS.read_text() if RESULTS.exists() else HEADER
    if start in text and end in text:
        before, rest = text.split(start, 1)
        text = before + block + rest.split(end, 1)[1]
    else:
        text = text.rstrip() + "\n\n" + block + "\n"
    RESULTS.write_text(text)
    print(block)


def shared_datasets() -> Path:
    """Benchmarks read ../shared/datasets (beside the repository); the project itself never does."""
    p = Path(os.environ.get("LABELWISE_DATASETS", Path(__file__).resolve().parents[2] / "shared" / "datasets"))
    if not p.exists():
        sys.exit(f"datasets not found at {p}; set LABELWISE_DATASETS")
    return p


def sample_csv(path: Path, n: int, seed: int = 13, keep: Callable[[dict], bool] = lambda r: True) -> list[dict]:
    """``n`` rows of a CSV file (those ``keep`` accepts), shuffled by a seeded Random."""
    import csv
    import random
    rows = [r for r in csv.DictReader(open(path, encoding="utf-8")) if keep(r)]
    random.Random(seed).shuffle(rows)
    return rows[:n]


def mean_std(vals: list[float]) -> str:
    import numpy as np
    return f"{np.mean(vals):.3f} ± {np.std(vals):.3f}"
