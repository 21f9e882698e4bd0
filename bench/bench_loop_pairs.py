"""Active learning on sentence pairs (issue 3, pairs): paraphrase labels from the embedded LLM,
distilled into the `pair` bi-encoder. Pool: MRPC train pairs; source test: MRPC test; shifted
target: STS-B validation pairs, "yes" where the human similarity score is >= 4 of 5 and "no"
where it is <= 2 (the ambiguous middle left out). The LLM labels the pool once (scored choices,
temperature 0, a fixed set of few-shot examples from MRPC train pairs outside the pool, so equal
to labelling on demand); strategies then replay from the cache.

One loop per strategy and seed: a seed of the smallest budget (random, LLM-labelled), then rounds
of that size chosen by the strategy, up to the largest budget; accuracy is read after each budget.
Fine-tuning the bi-encoder is the cost here (about 0.2 s per label per fit on 2 CPU cores)."""
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


def build(folder: Path, args: argparse.Namespace) -> Project:
    ds = shared_datasets()
    mrpc = lambda r: "yes" if r["label"] == "1" else "no"  # noqa: E731
    sts = lambda r: "yes" if float(r["score"]) >= 4 else "no"  # noqa: E731
    train = sample(ds / "mrpc" / "train.csv", args.pool + 200)
    rows = [("pool", "", r, mrpc(r)) for r in train[: args.pool]]
    rows += [("test", "", r, mrpc(r)) for r in sample(ds / "mrpc" / "test.csv", args.test)]
    rows += [("test", "stsb", r, sts(r)) for r in sample(ds / "stsb" / "validation.csv", args.target,
                                                          keep=lambda r: not 2 < float(r["score"]) < 4)]
    with open(folder / "data.csv", "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["id", "a", "b", "label", "split", "domain"])
        for i, (split, dom, r, label) in enumerate(rows):
            w.writerow([f"r{i}", r["sentence1"].strip(), r["sentence2"].strip(), label, split, dom])
    with open(folder / "examples.csv", "w", newline="", encoding="utf-8") as f:  # train pairs outside the pool
        w = csv.writer(f)
        w.writerow(["id", "a", "b", "label"])
        for i, r in enumerate(train[args.pool:]):
            w.writerow([f"e{i}", r["sentence1"].strip(), r["sentence2"].strip(), mrpc(r)])
    few_shot = f"few_shot: {{mode: fixed, k: {args.few_shot}, path: examples.csv}}\n" if args.few_shot else ""
    (folder / "labelwise.yaml").write_text(
        "task:\n  kind: pair\n  text_field: a\n  text_pair_field: b\n"
        "  instructions: Do the two sentences say the same thing (paraphrases)?\n"
        "  labels: {\"yes\": the sentences are paraphrases, \"no\": they differ in meaning}\n"
        "data: {path: data.csv, id_field: id, label_field: label, split_field: split, domain_field: domain}\n"
        + few_shot + f"annotator: {{backend: llamacpp, model: {args.model}}}\n", encoding="utf-8")
    return Project.open(folder)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--pool", type=int, default=500)
    ap.add_argument("--test", type=int, default=150)
    ap.add_argument("--target", type=int, default=150)
    ap.add_argument("--budgets", default="100,200,400", help="each a multiple of the first (the round size)")
    ap.add_argument("--strategies", default="random,entropy,margin,ci,diversity",
                    help="comma-separated; with two labels only one of entropy/margin/least_confidence runs "
                         "(they rank items identically)")
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--few-shot", type=int, default=4, help="fixed label-balanced examples in each prompt (0: none)")
    ap.add_argument("--model", default="qwen2.5-coder-1.5b-instruct")
    args = ap.parse_args()
    budgets = sorted(int(b) for b in args.budgets.split(","))
    step = budgets[0]
    if any(b % step for b in budgets) or budgets[-1] > args.pool:
        ap.error("--budgets: each must be a multiple of the smallest and at most --pool")
    seeds = [int(s) for s in args.seeds.split(",")]
    with tempfile.TemporaryDirectory() as tmp:
        p = build(Path(tmp), args)
        strategies, row_name, same_note = collapse_two_class(args.strategies.split(","), len(p.task.labels))
        pool, test = split_records(p.load_records(), "test")
        src = [r for r in test if not r.domain]
        t0 = time.perf_counter()
        p.run(pool + test)
        llm_seconds = time.perf_counter() - t0
        p.annotator.unload()
        anns = {a.record_id: a for a in p.store.annotations()}
        llm = {d: np.mean([anns[r.id].label == r.gold for r in test if (r.domain or "source") == d])
               for d in ("source", "stsb")}
        majority = {d: np.mean([r.gold == "yes" for r in test if (r.domain or "source") == d])
                    for d in ("source", "stsb")}
        llm_pool = np.mean([anns[r.id].label == r.gold for r in pool])
        domains = ["source", "stsb"]
        lines = ["| strategy | LLM labels | MRPC test (source) | STS-B (target) |", "|---|---|---|---|"]
        kind = rounds_for(p.task)
        curves = {}  # (strategy, seed) -> {labels bought: round result}
        for strategy in strategies:
            for seed in seeds:
                t1 = time.perf_counter()
                run = ActiveLearningLoop(p, strategy=strategy, budget=budgets[-1], rounds=budgets[-1] // step - 1,
                                         seed=seed, model="pair", seed_size=step).run()
                curves[strategy, seed] = {r["llm_labels"]: r for r in run}
                print(strategy, seed, {n: round(r["test"]["source"]["accuracy"], 3) for n, r in
                                       curves[strategy, seed].items()}, f"{time.perf_counter() - t1:.0f}s", flush=True)
        for b in budgets:
            for strategy in strategies:
                per_seed = [curves[strategy, seed][b] for seed in seeds]
                lines.append(f"| {row_name[strategy]} | {b} | " + " | ".join(fmt([r["test"][d]["accuracy"] for r in per_seed])
                                                                   for d in domains) + " |")
            gold_rows = []
            for seed in seeds:
                ids = np.random.default_rng(seed).permutation(len(pool))[:b]
                m = make_small_model("pair", store=p.store, seed=seed).fit(
                    kind.inputs([pool[i] for i in ids]), [pool[i].gold for i in ids])
                gold_rows.append(evaluate_by_domain(m, kind, test))
            lines.append(f"| *gold labels, random* | {b} | " + " | ".join(fmt([g[d]["accuracy"] for g in gold_rows])
                                                                           for d in domains) + " |")
        full = make_small_model("pair", store=p.store, seed=0).fit(kind.inputs(pool), [r.gold for r in pool])
        ev = evaluate_by_domain(full, kind, test)
        lines.append(f"| *all gold labels of the pool* | {len(pool)} | " +
                     " | ".join(f"{ev[d]['accuracy']:.3f}" for d in domains) + " |")
    body = (f"Pool {len(pool)} MRPC train pairs; source test {len(src)} MRPC test pairs; target "
            f"{len(test) - len(src)} STS-B validation pairs (score >= 4 -> yes, <= 2 -> no). Annotator `{args.model}` "
            f"(embedded, choices scored); small model: `pair` (MiniLM bi-encoder fine-tuned on the labels, cosine -> "
            f"P(yes) by logistic calibration); {args.few_shot} fixed few-shot examples per prompt; one loop per strategy "
            f"and seed: a random seed of {step} LLM labels, then rounds of {step} chosen by the strategy, accuracy read "
            f"after {args.budgets} labels; seeds {args.seeds}; accuracy mean ± std over seeds.\n\n" + "\n".join(lines) +
            (f"\n\n{same_note}" if same_note else "") +
            f"\n\nThe LLM itself, labelling every item: {llm['source']:.1%} on MRPC test, {llm['stsb']:.1%} on the "
            f"STS-B target, {llm_pool:.1%} on the pool ({llm_seconds / (len(pool) + len(test)):.2f} s/item here, $0). "
            f"Always answering \"yes\" scores {majority['source']:.1%} on MRPC test and {majority['stsb']:.1%} on "
            f"the STS-B target.")
    write_section("loop-pairs", "Active learning on sentence pairs (MRPC -> STS-B)", body,
                  "python bench/bench_loop_pairs.py " + " ".join(sys.argv[1:]))


if __name__ == "__main__":
    main()
