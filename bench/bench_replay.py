"""(c) Replay of a fully cached run: items per second when every answer is in the cache.

A first run with a scripted annotator fills the cache; its annotations are then deleted and the
same run is repeated: every answer comes from the cache (no calls), annotations are rebuilt and
written. Goal: >= 20,000 items/s, judged on the median replay (the machine may be shared: the
load average is written beside the figures, and CPU seconds, which other work skews less).
"""
from __future__ import annotations

import argparse
import asyncio
import math
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from results import write_section  # noqa: E402

from labelwise.annotators.fake import FakeAnnotator  # noqa: E402
from labelwise.config import TaskConfig  # noqa: E402
from labelwise.cost import Budget  # noqa: E402
from labelwise.engine import AnnotationRun  # noqa: E402
from labelwise.store import Store  # noqa: E402
from labelwise.tasks import make_task  # noqa: E402
from labelwise.types import Record  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--items", type=int, default=50_000)
    ap.add_argument("--repeats", type=int, default=7)
    args = ap.parse_args()
    task = make_task(TaskConfig(kind="classification", instructions="Sentiment of the sentence.",
                                labels={"positive": "favourable", "negative": "unfavourable"}))
    recs = [Record(str(i), {"text": f"sentence {i} about a film that was {'great' if i % 2 else 'dull'}"})
            for i in range(args.items)]
    fake = FakeAnnotator(lambda q: {"positive": math.log(0.7), "negative": math.log(0.3)})
    rows = []
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(Path(tmp) / "replay.db")
        store.put_records(recs)
        t0 = time.perf_counter()
        first = asyncio.run(AnnotationRun(task, fake, store, Budget(), None, concurrency=64).run(recs))
        fill = time.perf_counter() - t0
        for _ in range(args.repeats):
            store.db.execute("DELETE FROM annotations")
            t0, c0 = time.perf_counter(), time.process_time()
            s = asyncio.run(AnnotationRun(task, fake, store, Budget(), None).run(recs))
            dt, cpu = time.perf_counter() - t0, time.process_time() - c0
            assert s.calls == 0 and s.annotated == args.items and s.from_cache == args.items
            rows.append((dt, cpu))
    load_after = os.getloadavg()
    walls = [dt for dt, _ in rows]
    median, best, worst = statistics.median(walls), min(walls), max(walls)
    rate = args.items / median
    body = (f"{args.items:,} single-label items; the first (filling) run took {fill:.1f}s for {first.calls:,} "
            f"scripted calls. Load average (1/5/15 min) {'/'.join(f'{x:.2f}' for x in load_before)} before, "
            f"{'/'.join(f'{x:.2f}' for x in load_after)} after ({os.cpu_count()} cores).\n\n"
            f"| run | seconds | items/s | CPU seconds | items per CPU second |\n|---|---|---|---|---|\n"
            + "\n".join(f"| replay {i + 1} | {dt:.2f} | {args.items / dt:,.0f} | {cpu:.2f} | {args.items / cpu:,.0f} |"
                        for i, (dt, cpu) in enumerate(rows))
            + f"\n\nGoal >= 20,000 items/s: **{'met' if rate >= 20_000 else 'NOT met'}** "
              f"(median replay {rate:,.0f} items/s; slowest {args.items / worst:,.0f}, fastest {args.items / best:,.0f}).")
    write_section("replay", "Replay of a fully cached run", body, "python bench/bench_replay.py")


if __name__ == "__main__":
    main()
