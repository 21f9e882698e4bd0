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


# entropy, margin and least-confidence are each a strictly monotone function of the larger class
# probability when there are two classes, so they rank a pool identically: one run stands for all.
SAME_FOR_TWO = ("entropy", "margin", "least_confidence")


def collapse_two_class(strategies: list[str], n_labels: int) -> tuple[list[str], dict[str, str], str]:
    """For a two-label task, keep one of entropy / margin / least_confidence (entropy where named).

    Returns the strategies to run (order kept), the row label of each, and a sentence for under
    the table ("" when nothing was collapsed). Prints a note when strategies were dropped.
    """
    names = {s: s for s in strategies}
    named = [s for s in strategies if s in SAME_FOR_TWO]
    if n_labels != 2 or not named:
        return list(strategies), names, ""
    keep = "entropy" if "entropy" in named else named[0]
    dropped = [s for s in dict.fromkeys(named) if s != keep]
    out = [s for s in dict.fromkeys(strategies) if s not in dropped]
    others = [s for s in SAME_FOR_TWO if s != keep]
    names[keep] = f"{keep} (= {' = '.join(s.replace('_', '-') for s in others)} for two classes)"
    if dropped:
        print(f"note: with two labels {', '.join(SAME_FOR_TWO)} rank items identically; running only {keep} "
              f"(dropped: {', '.join(dropped)})", flush=True)
    sentence = (f"With two classes, entropy, margin and least-confidence are each a strictly monotone function "
                f"of the larger class probability, so they pick the same items: only `{keep}` was run, and its "
                f"row stands for all three.")
    return out, names, sentence
