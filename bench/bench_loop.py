"""Active learning on sentiment with the embedded LLM as annotator (issue: the loop's proof).

Pool: SST-2 train sentences; source test: SST-2 validation; target domains: Amazon
multi-domain (books, dvd, electronics, kitchen) and UCI sentences (yelp, amazon, imdb).
The LLM labels the pool once up front (answers are scored at temperature 0, so this equals
labelling on demand; every strategy then replays from the cache); each strategy's row counts
only the labels it selected. Reference rows: the small model on the same number of gold labels,
on all gold labels of the pool, and the LLM labelling every source-test item.
"""
from __future__ import annotations

import argparse
import csv
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from results import collapse_two_class, mean_std as fmt, sample_csv as sample, shared_datasets, write_section  # noqa: E402

from labelwise.loop import ActiveLearningLoop, evaluate_by_domain, split_records  # noqa: E402
from labelwise.loop_models import rounds_for  # noqa: E402
from labelwise.models.base import make_small_model  # noqa: E402
from labelwise.project import Project  # noqa: E402

NAMES = {"0": "negative", "1": "positive"}


def build(folder: Path, args: argparse.Namespace) -> Project:
    ds = shared_datasets()
    rows = [("pool", "", r) for r in sample(ds / "sst2" / "train.csv", args.pool)]
    rows += [("test", "", r) for r in sample(ds / "sst2" / "validation.csv", args.test)]
    for d in ("books", "dvd", "electronics", "kitchen"):
        rows += [("test", f"amazon-{d}", r) for r in sample(ds / "amazon_multidomain_sentiment" / d / "validation.csv", args.target)]
    for d in ("yelp", "amazon", "imdb"):
        rows += [("test", f"uci-{d}", r) for r in sample(ds / "uci_sentiment_sentences" / f"{d}.csv", args.target)]
    with open(folder / "data.csv", "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["id", "text", "label", "split", "domain"])
        for i, (split, dom, r) in enumerate(rows):
            w.writerow([f"r{i}", " ".join(r["text"].split()), NAMES[str(r["label"])], split, dom])
    (folder / "labelwise.yaml").write_text(
        "task:\n  instructions: Classify the sentiment of the review sentence.\n"
        "  labels: {positive: favourable opinion, negative: unfavourable opinion}\n"
        "data: {path: data.csv, id_field: id, label_field: label, split_field: split, domain_field: domain}\n"
        f"annotator: {{backend: llamacpp, model: {args.model}}}\n")
    return Project.open(folder)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--pool", type=int, default=500)
    ap.add_argument("--test", type=int, default=200)
    ap.add_argument("--target", type=int, default=100)
    ap.add_argument("--budgets", default="100,200,400")
    ap.add_argument("--strategies", default="random,entropy,margin,ci,diversity",
                    help="comma-separated; with two labels only one of entropy/margin/least_confidence runs "
                         "(they rank items identically)")
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--rounds", type=int, default=4)
    ap.add_argument("--model", default="qwen2.5-coder-1.5b-instruct")
    args = ap.parse_args()
    budgets = [int(b) for b in args.budgets.split(",")]
    seeds = [int(s) for s in args.seeds.split(",")]
    with tempfile.TemporaryDirectory() as tmp:
        p = build(Path(tmp), args)
        strategies, row_name, same_note = collapse_two_class(args.strategies.split(","), len(p.task.labels))
        records = p.load_records()
        pool, test = split_records(records, "test")
        t0 = time.perf_counter()
        p.run(pool + [r for r in test if not r.domain])  # every pool item + the source test, once
        llm_seconds = time.perf_counter() - t0
        anns = {a.record_id: a for a in p.store.annotations()}
        src = [r for r in test if not r.domain]
        llm_acc = np.mean([anns[r.id].label == r.gold for r in src])
        llm_pool_acc = np.mean([anns[r.id].label == r.gold for r in pool])
        domains = ["source"] + sorted({r.domain for r in test if r.domain})
        lines = ["| strategy | LLM labels | " + " | ".join(domains) + " |", "|---" * (len(domains) + 2) + "|"]
        means: dict[tuple[str, int], float] = {}
        for b in budgets:
            for s in strategies:
                per_seed = [ActiveLearningLoop(p, strategy=s, budget=b, rounds=args.rounds, seed=seed,
                                               seed_size=max(20, b // 4)).run()[-1] for seed in seeds]
                cells = [fmt([r["test"][d]["accuracy"] for r in per_seed]) for d in domains]
                means[(s, b)] = float(np.mean([r["test"]["source"]["accuracy"] for r in per_seed]))
                lines.append(f"| {row_name[s]} | {b} | " + " | ".join(cells) + " |")
            gold_rows = []
            for seed in seeds:
                ids = np.random.default_rng(seed).permutation(len(pool))[:b]
                m = make_small_model("logreg", store=p.store, seed=seed).fit(
                    [pool[i].fields["text"] for i in ids], [pool[i].gold for i in ids])
                gold_rows.append(evaluate_by_domain(m, rounds_for(p.task), test))
            lines.append(f"| *gold labels, random* | {b} | " + " | ".join(fmt([g[d]["accuracy"] for g in gold_rows])
                                                                           for d in domains) + " |")
        full = make_small_model("logreg", store=p.store, seed=0).fit([r.fields["text"] for r in pool],
                                                                      [r.gold for r in pool])
        ev = evaluate_by_domain(full, rounds_for(p.task), test)
        lines.append(f"| *all gold labels of the pool* | {len(pool)} | " + " | ".join(f"{ev[d]['accuracy']:.3f}"
                                                                                    for d in domains) + " |")
    best = {b: max(strategies, key=lambda s: means[(s, b)]) for b in budgets}
    body = (f"Pool {len(pool)} SST-2 train sentences; source test {len(src)} SST-2 validation; targets "
            f"{args.target} sentences per domain. Annotator `{args.model}` (embedded), small model: MiniLM "
            f"embeddings + logistic regression, {args.rounds} rounds after a seed of budget/4 random items, "
            f"seeds {args.seeds}; accuracy mean ± std over seeds.\n\n" + "\n".join(lines) +
            (f"\n\n{same_note}" if same_note else "") +
            f"\n\nThe LLM itself, labelling every item: {llm_acc:.1%} on the source test, {llm_pool_acc:.1%} on the "
            f"pool ({llm_seconds / (len(pool) + len(src)):.2f} s/item on this machine, $0). "
            "Best strategy on the source test per budget: "
            + ", ".join(f"{b}: **{best[b]}** ({means[(best[b], b)]:.3f})" for b in budgets) + ".")
    write_section("loop", "Active learning on sentiment (source SST-2, shifted targets)", body,
                  " ".join(["python bench/bench_loop.py", *sys.argv[1:]]))


if __name__ == "__main__":
    main()
