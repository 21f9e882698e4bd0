"""(a) Accuracy and seconds per item of each packaged model on SST-2 validation sentences,
zero-shot and few-shot (4 fixed, label-balanced examples from SST-2 train), labels scored by
log-probability through the embedded backend. Each model is loaded, and answers one warm-up
prompt (not from the test set), before any row is timed: seconds per item exclude loading, and
the load time is reported on its own. Needs ../shared/datasets."""
from __future__ import annotations

import argparse
import asyncio
import csv
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from results import shared_datasets, write_section  # noqa: E402

from labelwise.annotators.catalogue import catalogue  # noqa: E402
from labelwise.annotators.llamacpp import LlamaCppAnnotator  # noqa: E402
from labelwise.annotators.pull import pull  # noqa: E402
from labelwise.config import AnnotatorConfig, TaskConfig  # noqa: E402
from labelwise.cost import Budget  # noqa: E402
from labelwise.engine import AnnotationRun  # noqa: E402
from labelwise.fewshot import FewShot  # noqa: E402
from labelwise.store import Store  # noqa: E402
from labelwise.tasks import make_task  # noqa: E402
from labelwise.types import Labeled, Record  # noqa: E402

NAMES = {"0": "negative", "1": "positive"}


def sst2(split: str, n: int, seed: int = 13) -> list[Record]:
    rows = list(csv.DictReader(open(shared_datasets() / "sst2" / f"{split}.csv", encoding="utf-8")))
    random.Random(seed).shuffle(rows)
    return [Record(f"{split}-{i}", {"text": r["sentence" if "sentence" in r else "text"].strip()},
                   gold=NAMES[str(r["label"])]) for i, r in enumerate(rows[:n])]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--n", type=int, default=500)
    ap.add_argument("--models", default=",".join(catalogue()))
    ap.add_argument("--shots", type=int, default=4)
    args = ap.parse_args()
    task = make_task(TaskConfig(kind="classification", instructions="Classify the sentiment of the movie review sentence.",
                                labels={"positive": "", "negative": ""}))
    test = sst2("validation", args.n)
    fs = FewShot("fixed", sst2("train", 200), ("text",), k=args.shots, balanced=True)
    rows = []
    loads: list[tuple[str, float]] = []
    warm = Record("warm-up", {"text": "A warm-up sentence, not from the test set."})
    for name in args.models.split(","):
        pull(name)
        ann = LlamaCppAnnotator(AnnotatorConfig(backend="llamacpp", model=name, n_ctx=2048))
        t0 = time.perf_counter()
        ann.answer_sync(task.queries(warm)[0])  # loads the model; no row's clock includes this
        loads.append((name, time.perf_counter() - t0))
        print(f"{name}: loaded + one warm-up answer in {loads[-1][1]:.1f} s", flush=True)
        for mode, examples in (("zero-shot", None), (f"{args.shots}-shot", fs.for_record)):
            with tempfile.TemporaryDirectory() as tmp:
                store = Store(Path(tmp) / "b.db")
                run = AnnotationRun(task, ann, store, Budget(), None, concurrency=1, examples_for=examples)
                t0 = time.perf_counter()
                s = asyncio.run(run.run(test))
                wall = time.perf_counter() - t0
                anns = store.annotations()
                gold = {r.id: r.gold for r in test}
                ok = [a for a in anns if a.error is None]
                m = task.metrics([gold[a.record_id] for a in ok], [Labeled(a.label, a.distribution) for a in ok])
                rows.append((name, mode, m["accuracy"], m["macro_f1"], (len(anns) - len(ok)) / len(anns),
                             wall / len(test), m.get("calibration", {}).get("ece", float("nan"))))
                print(rows[-1], flush=True)
        ann.unload()
    body = (f"{args.n} SST-2 validation sentences (shuffled with `random.Random(13)`), labels scored by "
            f"log-probability, shared prompt prefix kept in the KV cache; few-shot examples: {args.shots} fixed, "
            "label-balanced, from SST-2 train. Seconds per item exclude model loading: each model was loaded and "
            "answered one warm-up prompt (not from the test set) before any of its rows was timed; the load "
            "times are listed under the table.\n\n"
            "| model | prompt | accuracy | macro-F1 | errors | s/item | ECE |\n|---|---|---|---|---|---|---|\n"
            + "\n".join(f"| {a} | {b} | {c:.1%} | {d:.3f} | {e:.1%} | {f:.3f} | {g:.3f} |" for a, b, c, d, e, f, g in rows)
            + "\n\nLoad time (model file into memory + one warm-up answer), not in s/item: "
            + ", ".join(f"{n} {t:.1f} s" for n, t in loads) + ".")
    write_section("models", "Packaged models as annotators (SST-2)", body,
                  f"python bench/bench_models.py --n {args.n}")


if __name__ == "__main__":
    main()
