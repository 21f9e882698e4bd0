"""Selection at scale: every strategy's choice of one batch over pools of 10k, 100k and 1M items.

Each (strategy, pool size) runs in a fresh process, so its peak memory is its own. The pool is
synthetic but shaped like the loop's: 384-d float32 unit embeddings (the packaged MiniLM's
size), 4-class probabilities, base and fine-tuned scores, 5 committee members' votes, and for
the NER strategies per-sentence token marginals (12 tokens x 9 tags). ``--labeled`` items are
already labeled (k-center counts them as centers) and the batch is ``--batch`` items.

Reported per case: seconds to build the ``PoolState`` (the loop does this every round), seconds
to select, the peak of memory allocated while selecting (tracemalloc: numpy's buffers are
traced) and the process's peak RSS (inputs included), next to the inputs' own size.

Goal (issue 16): under 10 s and 4 GB at 1M for every strategy but k-center; k-center under 60 s.
No model, no dataset: anyone can re-run it.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))

STRATEGIES = ["random", "least_confidence", "margin", "entropy", "ci", "committee", "diversity",
              "class_balanced(entropy)", "prefilter(diversity, by=entropy, keep=0.2)",
              "mean_token_entropy", "max_token_entropy", "sequence_least_confidence"]
NER = ("mean_token_entropy", "max_token_entropy", "sequence_least_confidence")


def pool_arrays(n: int, strategy: str, labeled: int, seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    out: dict = {"ids": np.array([f"i{i:07d}" for i in range(n)]), "labeled": np.zeros(n, bool)}
    out["labeled"][rng.choice(n, size=min(labeled, n), replace=False)] = True
    if strategy in NER:
        out["token_marginals"] = [m / m.sum(axis=1, keepdims=True) for m in (rng.random((12, 9)) for _ in range(n))]
        return out
    proba = rng.dirichlet(np.ones(4), size=n)
    out.update(proba=proba, predicted=proba.argmax(axis=1))
    if strategy == "ci":
        out.update(base_score=rng.dirichlet(np.ones(4), size=n), finetuned_score=proba)
    if strategy == "committee":
        out["committee_votes"] = rng.integers(0, 4, size=(5, n))
    if "diversity" in strategy:
        e = rng.standard_normal((n, 384), dtype=np.float32)
        e /= np.linalg.norm(e, axis=1, keepdims=True)
        out["embeddings"] = e
    return out


def make(strategy: str):
    from labelwise.strategies import ClassBalanced, PreFilter, make_strategy
    if strategy.startswith("class_balanced("):
        return ClassBalanced(strategy[len("class_balanced("):-1])
    if strategy.startswith("prefilter("):
        return PreFilter("diversity", by="entropy", keep_fraction=0.2)
    return make_strategy(strategy)


def one_case(strategy: str, n: int, labeled: int, batch: int) -> dict:
    from labelwise.strategies import PoolState
    arrays = pool_arrays(n, strategy, labeled)
    input_mb = sum(a.nbytes if isinstance(a, np.ndarray) else sum(x.nbytes for x in a) for a in arrays.values()) / 2**20
    t0 = time.perf_counter()
    state = PoolState(**arrays)
    built = time.perf_counter() - t0
    s = make(strategy)
    tracemalloc.start()
    t0 = time.perf_counter()
    picked = s.select(state, batch, np.random.default_rng(1))
    took = time.perf_counter() - t0
    peak = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    assert len(picked) == batch and len(set(picked)) == batch
    return {"strategy": strategy, "n": n, "build_s": built, "select_s": took, "select_peak_mb": peak,
            "rss_peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "input_mb": input_mb}


def load() -> str:
    return f"{os.getloadavg()[0]:.2f}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="10000,100000,1000000")
    ap.add_argument("--strategies", default=";".join(STRATEGIES), help="';'-separated names")
    ap.add_argument("--labeled", type=int, default=1000)
    ap.add_argument("--batch", type=int, default=100)
    ap.add_argument("--case", nargs=2, metavar=("STRATEGY", "N"), help=argparse.SUPPRESS)
    ap.add_argument("--no-write", action="store_true")
    a = ap.parse_args()
    if a.case:
        print(json.dumps(one_case(a.case[0], int(a.case[1]), a.labeled, a.batch)))
        return
    names = [s.strip() for s in a.strategies.split(";") if s.strip()]
    sizes = [int(x) for x in a.sizes.split(",")]
    before = load()
    rows = []
    for name in names:
        for n in sizes:
            r = subprocess.run([sys.executable, __file__, "--case", name, str(n), "--labeled", str(a.labeled),
                                "--batch", str(a.batch)], capture_output=True, text=True)
            if r.returncode != 0:
                rows.append({"strategy": name, "n": n, "error": (r.stderr.strip().splitlines() or ["?"])[-1]})
            else:
                rows.append(json.loads(r.stdout.strip().splitlines()[-1]))
            print(json.dumps(rows[-1]), flush=True)
    after = load()
    lines = ["| strategy | pool | build PoolState (s) | select (s) | peak while selecting (MB) | process peak RSS (MB) | inputs (MB) |",
             "|---|---|---|---|---|---|---|"]
    for r in rows:
        if "error" in r:
            lines.append(f"| {r['strategy']} | {r['n']:,} | failed: {r['error'][:80]} | | | | |")
            continue
        lines.append(f"| {r['strategy']} | {r['n']:,} | {r['build_s']:.2f} | {r['select_s']:.2f} | "
                     f"{r['select_peak_mb']:.0f} | {r['rss_peak_mb']:.0f} | {r['input_mb']:.0f} |")
    big = [r for r in rows if r.get("n") == max(sizes) and "error" not in r]
    kc = [r for r in big if "diversity" in r["strategy"]]
    other = [r for r in big if "diversity" not in r["strategy"]]
    verdict = []
    if other:
        worst = max(other, key=lambda r: r["build_s"] + r["select_s"])
        mem = max(other, key=lambda r: r["rss_peak_mb"])
        verdict.append(f"At {max(sizes):,} items the slowest strategy other than k-center took "
                       f"{worst['build_s'] + worst['select_s']:.1f} s ({worst['strategy']}, PoolState included; goal 10 s) "
                       f"and the largest process peaked at {mem['rss_peak_mb'] / 1024:.2f} GB ({mem['strategy']}, "
                       f"inputs included; goal 4 GB).")
    for r in kc:
        verdict.append(f"{r['strategy']}: {r['build_s'] + r['select_s']:.1f} s (goal 60 s), peak RSS "
                       f"{r['rss_peak_mb'] / 1024:.2f} GB.")
    body = (f"One batch of {a.batch} from pools of {', '.join(f'{n:,}' for n in sizes)} items, {a.labeled} already "
            f"labeled; each case in its own process. Synthetic arrays shaped like the loop's (384-d float32 "
            f"embeddings, 4 classes, 5 committee members, 12 x 9 token marginals for the NER strategies).\n\n"
            + "\n".join(lines) + "\n\n" + " ".join(verdict)
            + f"\n\nLoad average before / after: {before} / {after} ({os.cpu_count()} cores); one run per case, "
              "so a figure near a goal is not a margin.")
    if not a.no_write:
        from results import write_section
        write_section("selection", "Selection at scale: time and memory per strategy", body,
                      "python bench/bench_selection.py")


if __name__ == "__main__":
    main()
