"""Gold questions as an early warning, and content-free calibration on or off (issue 11 a, c).

Per data set, N items with their human labels, labeled once by the default annotator
(`qwen2.5-coder-1.5b-instruct`, embedded, zero-shot: the config `labelwise init` writes) through
the engine, calibration off and then on (calibrated answers replay the same calls from the
cache; only the content-free prompts are new). The N items stand for the "full test set":

- **interval coverage**: 10 draws of 50 gold items each (without replacement, seed = draw);
  each draw's one-sided (1 - delta) Clopper–Pearson bounds, exactly what `labelwise check` and
  the gold watch compute; how often [lower, upper] holds the accuracy on all N items, and the
  mean width;
- **gold items needed**: per draw, the N items in a random order answered one by one as gold
  questions; the first count (at least `gold.min_items` = 10) at which the interval leaves the
  target (lower >= target: meets, upper < target: below), and whether that verdict is right
  for the accuracy on all N items. Median [min-max] over the draws; "-" when it never separates;
- **calibration**: accuracy, macro-F1 and ECE on all N items, off and on.

Needs ../shared/datasets. Answers are cached under --workdir, so a rerun replays them.
"""
from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from bench_route import _text, ag_news, mrpc, offensive, sentiment, write_project  # noqa: E402
from results import sample_csv, shared_datasets, write_section  # noqa: E402

from labelwise.project import Project  # noqa: E402
from labelwise.quality.gold_watch import accuracy_bounds  # noqa: E402
from labelwise.types import Labeled  # noqa: E402

MODEL = "qwen2.5-coder-1.5b-instruct"


def hate(n: int) -> tuple[list[tuple], list[tuple], dict]:
    ds = shared_datasets() / "tweet_eval_hate"
    items = [("", _text(r), r["label_name"]) for r in sample_csv(ds / "test.csv", n)]
    return items, [], {"instructions": "Is the tweet hate speech against immigrants or women?",
                       "labels": {"hate": "attacks or demeans people for being immigrants or women",
                                  "not-hate": "no such attack"}}


def trec(n: int) -> tuple[list[tuple], list[tuple], dict]:
    items = [("", _text(r), r["label_name"]) for r in sample_csv(shared_datasets() / "trec" / "test.csv", n)]
    return items, [], {"instructions": "What kind of answer does the question ask for?",
                       "labels": {"ABBR": "an abbreviation", "DESC": "a description or definition",
                                  "ENTY": "an entity (thing, animal, colour, ...)", "HUM": "a person or group",
                                  "LOC": "a location", "NUM": "a number, date or amount"}}


SETS = {"sentiment": sentiment, "offensive": offensive, "hate": hate, "ag_news": ag_news, "trec": trec, "mrpc": mrpc}


def build(folder: Path, name: str, n: int, threads: int | None) -> Project:
    items, _, spec = SETS[name](n)
    return write_project(folder, items, [], spec, MODEL, threads=threads)  # zero-shot: the default config


def correctness(p: Project, records: list, calibrate: bool) -> tuple[np.ndarray, dict, int, float]:
    cfg = p.config.model_copy(update={"annotator": p.config.annotator.model_copy(update={"calibrate": calibrate})})
    sub = p.variant(cfg)
    t0 = time.perf_counter()
    s = sub.run(records, watch_gold=False)
    secs = time.perf_counter() - t0
    cur = sub.current_annotations(records)
    sub.annotator.unload()
    right = np.array([r.id in cur and cur[r.id].error is None and cur[r.id].label == r.gold for r in records])
    ok = [r for r in records if r.id in cur and cur[r.id].error is None]
    m = p.task.metrics([r.gold for r in ok], [Labeled(cur[r.id].label, cur[r.id].distribution) for r in ok])
    print(f"  calibrate={calibrate}: {s.calls} new calls in {secs:.0f} s, accuracy {right.mean():.3f}", flush=True)
    return right, m, s.calls, secs


def coverage(right: np.ndarray, k: int, draws: int, delta: float) -> tuple[float, float, list[float]]:
    full = right.mean()
    hits, widths, ests = 0, [], []
    for d in range(draws):
        idx = random.Random(d).sample(range(len(right)), k)
        c = int(right[idx].sum())
        lo, hi = accuracy_bounds(c, k, delta)
        hits += lo <= full <= hi
        widths.append(hi - lo)
        ests.append(c / k)
    return hits / draws, float(np.mean(widths)), ests


def needed(right: np.ndarray, target: float, draws: int, delta: float, min_items: int = 10) -> tuple[list, int]:
    """Per draw the count at which the verdict is reached (None: never); and how many verdicts
    were wrong against the accuracy on all items."""
    full = right.mean()
    counts, wrong = [], 0
    for d in range(draws):
        order = list(range(len(right)))
        random.Random(1000 + d).shuffle(order)
        c, at = 0, None
        for i, j in enumerate(order, 1):
            c += int(right[j])
            if i < min_items:
                continue
            lo, hi = accuracy_bounds(c, i, delta)
            if lo >= target or hi < target:
                at = i
                wrong += (lo >= target) != (full >= target)
                break
        counts.append(at)
    return counts, wrong


def fmt_counts(counts: list) -> str:
    got = [c for c in counts if c is not None]
    if not got:
        return "–"
    never = len(counts) - len(got)
    return f"{int(np.median(got))} [{min(got)}–{max(got)}]" + (f", {never} never" if never else "")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sets", default="sentiment,offensive,hate,ag_news,trec")
    ap.add_argument("--n", type=int, default=300, help="items per set, labeled once (the 'full test set')")
    ap.add_argument("--gold", type=int, default=50, help="gold items per coverage draw")
    ap.add_argument("--draws", type=int, default=10)
    ap.add_argument("--targets", default="0.70,0.80,0.90")
    ap.add_argument("--delta", type=float, default=0.05)
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--workdir", default="/tmp/labelwise-bench-gold")
    args = ap.parse_args()
    targets = [float(t) for t in args.targets.split(",")]
    cmd = "python bench/bench_gold.py " + " ".join(sys.argv[1:])
    cov_rows, need_rows, cal_rows = [], [], []
    for name in args.sets.split(","):
        print(f"== {name}", flush=True)
        p = build(Path(args.workdir) / name, name, args.n, args.threads)
        records = p.load_records()
        for cal in (False, True):
            right, m, calls, secs = correctness(p, records, cal)
            full = right.mean()
            lo, hi = accuracy_bounds(int(right.sum()), len(right), args.delta)
            tag = "on" if cal else "off"
            cal_rows.append(f"| {name} | {tag} | {full:.1%} [{lo:.1%}, {hi:.1%}] | {m.get('macro_f1', float('nan')):.3f} | "
                            f"{(m.get('calibration') or {}).get('ece', float('nan')):.3f} | "
                            + (f"{calls} new calls, {secs / max(calls, 1):.2f} s each" if calls else "replayed")
                            + " |")
            cov, width, ests = coverage(right, args.gold, args.draws, args.delta)
            cov_rows.append(f"| {name} | {tag} | {full:.1%} | {np.mean(ests):.1%} ± {np.std(ests):.1%} | "
                            f"{min(ests):.0%}–{max(ests):.0%} | {cov:.0%} | {width:.1%} |")
            cells = []
            for t in targets:
                counts, wrong = needed(right, t, args.draws, args.delta)
                cells.append(fmt_counts(counts) + (f" ({wrong} wrong)" if wrong else ""))
            need_rows.append(f"| {name} | {tag} | {full:.1%} | " + " | ".join(cells) + " |")
        body = (
            f"Annotator: `{MODEL}` (embedded, zero-shot, choices scored: the default config). {args.n} items per "
            f"set (seeded sample of the test split; `sentiment` mixes SST-2 with the Yelp, Amazon and IMDb sentences); "
            f"delta {args.delta} per side (one-sided Clopper–Pearson bounds, as in `labelwise check`). The 'full' "
            f"accuracy is on all {args.n} items, itself a sample: its own interval is in the calibration table.\n\n"
            f"**Interval coverage:** {args.draws} draws of {args.gold} gold items; the interval is [lower, upper], "
            f"nominal coverage {1 - 2 * args.delta:.0%}.\n\n"
            f"| set | calibration | full accuracy | {args.gold}-gold estimate (mean ± std) | range | coverage | mean width |\n"
            "|---|---|---|---|---|---|---|\n" + "\n".join(cov_rows) + "\n\n"
            f"**Gold items `check` needs** before the interval separates 'meets the target' from 'below' "
            f"(median [min–max] over {args.draws} orders; at least 10; 'wrong': verdicts that disagree with the "
            f"full accuracy):\n\n"
            "| set | calibration | full accuracy | " + " | ".join(f"target {t:.2f}" for t in targets) + " |\n"
            "|---|---|---|" + "---|" * len(targets) + "\n" + "\n".join(need_rows) + "\n\n"
            f"**Content-free calibration off and on** (all {args.n} items; the calibrated pass replays the item calls and adds only the content-free prompts):\n\n"
            "| set | calibration | accuracy [bounds] | macro-F1 | ECE | LLM work |\n|---|---|---|---|---|---|\n"
            + "\n".join(cal_rows))
        write_section("gold", "Gold questions as an early warning; calibration on and off", body, cmd.strip())


if __name__ == "__main__":
    main()
