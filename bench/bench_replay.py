"""(c) Replay of a fully cached run: items per second when every answer is in the cache.

A first run with a scripted annotator fills the cache; its annotations are then deleted and the
same run is repeated: every answer comes from the cache (no calls), annotations are rebuilt and
written. Goal: >= 20,000 items/s.
"""
from __future__ import annotations

import argparse
import asyncio
import math
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
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    task = make_task(TaskConfig(kind="classification", instructions="Sentiment of the sentence.",
                                labels={"positive": "favourable", "negative": "unfavourable"}))
    recs = [Record(str(i), {"text": f"sentence {i} about a film that was {'great' if i % 2 else 'dull'}"})
            for i in range(args.items)]
    fake = FakeAnnotator(lambda q: {"positive": math.log(0.7), "negative": math.log(0.3)})
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(Path(tmp) / "replay.db")
        store.put_records(recs)
        t0 = time.perf_counter()
        first = asyncio.run(AnnotationRun(task, fake, store, Budget(), None, concurrency=64).run(recs))
        fill = time.perf_counter() - t0
        for _ in range(args.repeats):
            store.db.execute("DELETE FROM annotations")
            t0 = time.perf_counter()
            s = asyncio.run(AnnotationRun(task, fake, store, Budget(), None).run(recs))
            dt = time.perf_counter() - t0
            assert s.calls == 0 and s.annotated == args.items and s.from_cache == args.items
            rows.append(dt)
    best, worst = min(rows), max(rows)
    body = (f"{args.items:,} single-label items; the first (filling) run took {fill:.1f}s for {first.calls:,} "
            f"scripted calls.\n\n| run | seconds | items/s |\n|---|---|---|\n"
            + "\n".join(f"| replay {i + 1} | {dt:.2f} | {args.items / dt:,.0f} |" for i, dt in enumerate(rows))
            + f"\n\nGoal >= 20,000 items/s: **{'met' if args.items / worst >= 20_000 else 'NOT met'}** "
              f"(slowest replay {args.items / worst:,.0f} items/s, fastest {args.items / best:,.0f}).")
    write_section("replay", "Replay of a fully cached run", body, "python bench/bench_replay.py")


if __name__ == "__main__":
    main()
