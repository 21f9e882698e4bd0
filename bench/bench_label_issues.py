"""Label-issue detection (issue 11 b): how well do `labelwise quality`'s suspects find wrong
labels? Human-labeled sets from ../shared/datasets with a share of their labels flipped to
another class at random (5 / 10 / 20 %, 3 seeds); suspects are cleanlab's confident learning on
5-fold out-of-fold probabilities of the default small model (`logreg` on the packaged MiniLM
encoder), exactly what `labelwise quality` runs. Precision and recall against the flipped
items (the sets' own human errors count against precision, so these are lower bounds).

With --llm-workdir (the folder `bench/bench_route.py` caches its projects in), also the LLM's
own errors: the 1.5b's labels on each set, suspects against the items where it disagrees with
the human label.
"""
from __future__ import annotations

import argparse
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from results import mean_std, sample_csv, shared_datasets, write_section  # noqa: E402

from labelwise.loop_models import ClassifierRounds  # noqa: E402
from labelwise.models.base import make_small_model  # noqa: E402
from labelwise.quality.label_issues import label_issues, out_of_fold_probs  # noqa: E402
from labelwise.store import Store  # noqa: E402
from labelwise.types import Record  # noqa: E402

SETS = {"sst2": ("sst2", "validation.csv"), "ag_news": ("ag_news", "test.csv"),
        "offensive": ("tweet_eval_offensive", "test.csv"), "trec": ("trec", "test.csv")}


class _Task:  # what ClassifierRounds.inputs reads
    input_fields = ("text",)


def load(name: str, n: int) -> list[Record]:
    folder, file = SETS[name]
    rows = sample_csv(shared_datasets() / folder / file, n)
    return [Record(f"r{i}", {"text": " ".join(r["text"].split())}, gold=r["label_name"]) for i, r in enumerate(rows)]


def scores(flagged: set[int], wrong: set[int]) -> tuple[float, float]:
    hit = len(flagged & wrong)
    return (hit / len(flagged) if flagged else float("nan")), (hit / len(wrong) if wrong else float("nan"))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sets", default="sst2,ag_news,offensive,trec")
    ap.add_argument("--n", type=int, default=800)
    ap.add_argument("--noise", default="0.05,0.10,0.20")
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--llm-workdir", default=None, help="bench_route.py's --workdir, for the LLM's own errors")
    args = ap.parse_args()
    kind = ClassifierRounds(_Task())
    lines = ["| set | classes | injected noise | flagged | precision | recall |", "|---|---|---|---|---|---|"]
    llm_lines = []
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(Path(tmp) / "emb.db")  # embeddings computed once per text, reused by every fold
        for name in args.sets.split(","):
            recs = load(name, args.n)
            classes = sorted({r.gold for r in recs})
            for noise in (float(x) for x in args.noise.split(",")):
                res = []
                for seed in (int(s) for s in args.seeds.split(",")):
                    rng = np.random.default_rng(seed)
                    wrong = set(rng.choice(len(recs), int(round(noise * len(recs))), replace=False).tolist())
                    labels = [r.gold if i not in wrong else classes[(classes.index(r.gold) + rng.integers(1, len(classes)))
                                                                    % len(classes)] for i, r in enumerate(recs)]
                    t0 = time.perf_counter()
                    probs = out_of_fold_probs(kind, lambda: make_small_model("logreg", store=store), recs, labels,
                                              classes, seed=seed)
                    flagged = {f["index"] for f in label_issues(labels, probs, classes)}
                    res.append((len(flagged), *scores(flagged, wrong)))
                    print(name, noise, seed, res[-1], f"{time.perf_counter() - t0:.0f}s", flush=True)
                lines.append(f"| {name} | {len(classes)} | {noise:.0%} | {np.mean([r[0] for r in res]):.0f} | "
                             f"{mean_std([r[1] for r in res])} | {mean_std([r[2] for r in res])} |")
            if args.llm_workdir:
                db = Path(args.llm_workdir) / name / "labelwise.db"
                if db.exists():
                    llm_lines.append(llm_row(name, db, kind, store))
    body = (f"{args.n} items per set (human labels, shuffled with `random.Random(13)`), labels flipped to a random "
            f"other class at each noise level, seeds {args.seeds}; suspects: cleanlab `find_label_issues` "
            "(prune_by_noise_rate) on 5-fold out-of-fold probabilities of `logreg` (MiniLM embeddings + logistic "
            "regression), as `labelwise quality` computes them. Precision counts every flagged item that was not "
            "flipped as a false alarm, including items whose human label was already wrong, so it is a lower "
            "bound. Mean ± std over seeds.\n\n" + "\n".join(lines))
    if llm_lines:
        body += ("\n\nThe LLM's own errors (qwen2.5-coder-1.5b labels from `bench/bench_route.py`'s cached "
                 "projects; error = disagrees with the human label):\n\n| set | items | LLM errors | flagged | "
                 "precision | recall |\n|---|---|---|---|---|---|\n" + "\n".join(llm_lines))
    write_section("label-issues", "Label issues: suspects against injected and LLM errors", body,
                  "python bench/bench_label_issues.py " + " ".join(sys.argv[1:]))


def llm_row(name: str, db: Path, kind: ClassifierRounds, store: Store) -> str:
    """Suspects among the 1.5b's labels of a bench_route project, against its disagreements with gold."""
    import csv
    import json
    folder = db.parent
    data = {r["id"]: r for r in csv.DictReader(open(folder / "data.csv", encoding="utf-8"))}
    with sqlite3.connect(db) as c:
        rows = c.execute("SELECT record_id, label FROM annotations WHERE annotator_id LIKE '%1.5b%' AND repeat=0 "
                         "AND error IS NULL").fetchall()
    got = {rid: json.loads(lab) for rid, lab in rows if rid in data and "text" in data[rid]}
    recs = [Record(rid, {"text": data[rid]["text"]}, gold=data[rid]["label"]) for rid in sorted(got)]
    labels = [got[r.id] for r in recs]
    classes = sorted(set(labels) | {r.gold for r in recs})
    probs = out_of_fold_probs(kind, lambda: make_small_model("logreg", store=store), recs, labels, classes)
    flagged = {f["index"] for f in label_issues(labels, probs, classes)}
    wrong = {i for i, r in enumerate(recs) if labels[i] != r.gold}
    p, rcl = scores(flagged, wrong)
    return f"| {name} | {len(recs)} | {len(wrong)} | {len(flagged)} | {p:.3f} | {rcl:.3f} |"


if __name__ == "__main__":
    main()
