"""Conditional informativeness in its own setting (issue 12, ranking): a ranker fine-tuned on a
source collection's human judgements, then LLM judgements bought for a target collection's
unlabeled (query, document) pairs, chosen by each strategy.

- source (`--source`, e.g. Cranfield): `--source-queries` queries x BM25 top-k pairs with their
  qrels grades (Cranfield 4..1 -> 3, 2, 1, 1; unjudged 0) as `loop.initial_train`;
- pool (`--target`, e.g. CISI): the pairs `bench/bench_relevance.py` built and the LLM graded
  (same texts, same prompt, so the loop replays its answers from that bench's database:
  `--llm-db`); the budget buys LLM grades from it;
- test: other queries of both collections (BM25 top-k with qrels), nDCG@10 of the ranker's
  ranking per collection.

Rows: each strategy (`ci`, `entropy`, `random`, ...) x seeds; references: the base encoder
(zero-shot cosine), the source-only fine-tune, and the ranker fine-tuned on the pool's own human
judgements instead of LLM grades. Mean ± std over seeds.
"""
from __future__ import annotations

import argparse
import csv
import sys
import time
from pathlib import Path

import numpy as np


sys.path.insert(0, str(Path(__file__).parent))
from results import mean_std, shared_datasets, write_section  # noqa: E402

from labelwise.loop import ActiveLearningLoop  # noqa: E402
from labelwise.models.base import make_small_model  # noqa: E402
from labelwise.project import Project  # noqa: E402
from labelwise.search.metrics import ranking_metrics  # noqa: E402
from labelwise.search.pairs import build_pairs  # noqa: E402

CRANFIELD = {4: 3, 3: 2, 2: 1, 1: 1}


def grade(collection: str, g: int | None) -> int:
    if g is None:
        return 0
    return CRANFIELD.get(g, 0) if collection == "ir_cranfield" else min(int(g), 3)


def write_pairs(path: Path, rows: list[dict], collection: str, words: int, domain: str, labels: bool = True) -> None:
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=["id", "query", "document", "label", "domain"])
        w.writeheader()
        for r in rows:
            w.writerow({"id": r["id"], "query": r["query"], "document": " ".join(r["document"].split()[:words]),
                        "label": grade(collection, r["label"]) if labels else "", "domain": domain})


def ndcg_by_domain(model, records) -> dict[str, float]:  # noqa: ANN001
    out = {}
    for d in sorted({r.domain for r in records}):
        recs = [r for r in records if r.domain == d]
        X = [(r.fields["query"], r.fields["document"]) for r in recs]
        s = model.score(X) if hasattr(model, "score") else model
        qrels, run = {}, {}
        for r, v in zip(recs, s):
            qrels.setdefault(r.fields["query"], {})[r.id] = int(r.gold)
            run.setdefault(r.fields["query"], {})[r.id] = float(v)
        out[d] = ranking_metrics(qrels, run)["ndcg@10"]
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--source", default="ir_cranfield")
    ap.add_argument("--target", default="ir_cisi")
    ap.add_argument("--relevance-workdir", default="/tmp/labelwise-bench-relevance",
                    help="bench_relevance.py's --workdir: the target's graded pairs and their database")
    ap.add_argument("--llm-db", default=None, help="default: RELEVANCE_WORKDIR/TARGET/labelwise.db")
    ap.add_argument("--pool-pairs", default=None, help="default: RELEVANCE_WORKDIR/TARGET/pairs.csv")
    ap.add_argument("--source-queries", type=int, default=10)
    ap.add_argument("--test-queries", type=int, default=10)
    ap.add_argument("--k", type=int, default=20)
    ap.add_argument("--words", type=int, default=150)
    ap.add_argument("--strategies", default="ci,entropy,random")
    ap.add_argument("--seeds", default="0,1")
    ap.add_argument("--budget", type=int, default=60)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--seed-size", type=int, default=20)
    ap.add_argument("--workdir", default="/tmp/labelwise-bench-loop-relevance")
    args = ap.parse_args()
    args.llm_db = args.llm_db or str(Path(args.relevance_workdir) / args.target / "labelwise.db")
    args.pool_pairs = args.pool_pairs or str(Path(args.relevance_workdir) / args.target / "pairs.csv")
    work = Path(args.workdir) / f"{args.source}-{args.target}"
    work.mkdir(parents=True, exist_ok=True)
    ds = shared_datasets()
    pool_ids = {row["id"] for row in csv.DictReader(open(args.pool_pairs, encoding="utf-8"))}
    pool_queries = {i.split("|")[0] for i in pool_ids}
    # source training pairs, and test pairs of both collections from queries the pool does not use
    src = build_pairs(ds / args.source, k=args.k, max_queries=args.source_queries, seed=101, unjudged=None)
    write_pairs(work / "source.csv", src, args.source, args.words, "source")
    tests = []
    for coll, name in ((args.source, "source"), (args.target, "target")):
        rows = [r for r in build_pairs(ds / coll, k=args.k, max_queries=args.test_queries + 40, seed=202, unjudged=None)
                if not (coll == args.target and r["query_id"] in pool_queries)
                and not (coll == args.source and r["query_id"] in {s["query_id"] for s in src})]
        qids = sorted({r["query_id"] for r in rows}, key=lambda q: (len(q), q))[:args.test_queries]
        tests += [dict(r, id=f"{name}:{r['id']}", domain=name) for r in rows if r["query_id"] in qids]
    with open(work / "test.csv", "w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=["id", "query", "document", "label", "domain"])
        w.writeheader()
        for r in tests:
            coll = args.source if r["domain"] == "source" else args.target
            w.writerow({"id": r["id"], "query": r["query"], "document": " ".join(r["document"].split()[:args.words]),
                        "label": grade(coll, r["label"]), "domain": r["domain"]})
    # the pool: bench_relevance's pairs (texts as graded), with the qrels grade kept aside for the reference row
    target_qrels = {r["id"]: grade(args.target, r["label"]) for r in build_pairs(ds / args.target, k=args.k,
                                                                                     max_queries=None, unjudged=None)
                    if r["id"] in pool_ids}
    pool_rows = list(csv.DictReader(open(args.pool_pairs, encoding="utf-8")))
    with open(work / "pool.csv", "w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=["id", "query", "document", "label", "domain"])
        w.writeheader()
        w.writerows({"id": r["id"], "query": r["query"], "document": r["document"], "label": "", "domain": "target"}
                    for r in pool_rows)
    (work / "labelwise.yaml").write_text(
        "task: {kind: relevance, text_field: query, text_pair_field: document}\n"
        "data: {path: test.csv, id_field: id, label_field: label, domain_field: domain}\n"
        "annotator: {backend: llamacpp, model: qwen2.5-coder-1.5b-instruct}\n"
        f"store: {{path: {args.llm_db}}}\n", encoding="utf-8")
    p = Project.open(work)
    test = p.load_records()
    print(f"source {len(src)} pairs, pool {len(pool_rows)}, test {len(test)}", flush=True)
    rows: dict[str, list[dict]] = {}
    picks: dict[str, list[tuple[float, float]]] = {}  # strategy -> (share judged relevant by qrels, LLM grade >= 2)

    def ranker(seed: int):  # noqa: ANN202
        return make_small_model("ranker", store=p.store, seed=seed)  # the loop's own ranker, same settings

    src_recs = p.read_extra(work / "source.csv", "train", need_labels=True)
    pool_recs = p.read_extra(work / "pool.csv", "pool")
    base = ranker(0).fit([(r.fields["query"], r.fields["document"]) for r in src_recs], [r.gold for r in src_recs])
    cos_rows = {d: [] for d in ("source", "target")}
    for d in cos_rows:
        recs = [r for r in test if r.domain == d]
        cos_rows[d] = ndcg_by_domain(base.base_score([(r.fields["query"], r.fields["document"]) for r in recs]),
                                     recs)[d]
    rows["base encoder (cosine, no training)"] = [cos_rows]
    for seed in [int(s) for s in args.seeds.split(",")]:
        t0 = time.perf_counter()
        m = ranker(seed).fit([(r.fields["query"], r.fields["document"]) for r in src_recs], [r.gold for r in src_recs])
        rows.setdefault("source only (fine-tuned on source qrels)", []).append(ndcg_by_domain(m, test))
        human = [r for r in pool_recs if target_qrels.get(r.id.split(":", 1)[1]) is not None]
        m = ranker(seed).fit([(r.fields["query"], r.fields["document"]) for r in src_recs + human],
                             [r.gold for r in src_recs] + [str(target_qrels[r.id.split(':', 1)[1]]) for r in human])
        rows.setdefault(f"source + all {len(human)} pool pairs with human judgements", []).append(ndcg_by_domain(m, test))
        print(f"  references seed {seed}: {time.perf_counter() - t0:.0f} s", flush=True)
        for strategy in args.strategies.split(","):
            t0 = time.perf_counter()
            loop = ActiveLearningLoop(p, strategy=strategy, budget=args.budget, rounds=args.rounds, seed=seed,
                                      seed_size=args.seed_size, model="ranker",
                                      initial_train=str(work / "source.csv"), pool_path=str(work / "pool.csv"))
            res = loop.run()
            for rnd in res:  # every round's budget is a row: the table reads at two or more budgets
                r = {d: v["ndcg@10"] for d, v in rnd["test"].items()}
                rows.setdefault(f"{strategy}, {rnd['llm_labels']} LLM grades", []).append(r)
            labeled = p.store.rounds(loop.run_name)[-1][2]  # what the strategy bought, and what it was
            rel = [bool(target_qrels.get(i.split(":", 1)[1])) for i in labeled]  # qrels: relevant
            llm = [g is not None and int(g) >= 2 for g in labeled.values()]  # the LLM: relevant
            picks.setdefault(strategy, []).append((
                sum(rel) / max(1, len(rel)), sum(llm) / max(1, len(llm)),
                sum(a and b for a, b in zip(rel, llm)) / sum(rel) if any(rel) else float("nan"),
                sum(a == b for a, b in zip(rel, llm)) / max(1, len(rel))))
            print(f"  {strategy} seed {seed}: {[(x['llm_labels'], x['test']) for x in res]} "
                  f"({time.perf_counter() - t0:.0f} s)", flush=True)
    lines = ["| way | nDCG@10 source (" + args.source + ") | nDCG@10 target (" + args.target + ") | runs |",
             "|---|---|---|---|"]
    refs = [t for t in rows if "LLM grades" not in t]
    bought = sorted((t for t in rows if "LLM grades" in t), key=lambda t: (int(t.split(", ")[1].split()[0]), t))
    for title, rs in [(t, rows[t]) for t in refs + bought]:
        lines.append(f"| {title} | {mean_std([x['source'] for x in rs])} | {mean_std([x['target'] for x in rs])} | "
                     f"{len(rs)} |")
    body = (f"Source: {args.source}, {len(src)} pairs ({args.source_queries} queries x BM25 top {args.k}) with qrels "
            f"as `loop.initial_train`; pool: {len(pool_rows)} {args.target} pairs graded by the LLM "
            f"(qwen2.5-coder-1.5b, zero-shot; replayed from `bench_relevance.py`'s cache); test: {args.test_queries} "
            f"other queries per collection, BM25 top {args.k}, documents cut to {args.words} words. Ranker: the "
            f"`ranker` small model with its defaults (MiniLM bi-encoder, 3 epochs). Loop: budget {args.budget}, {args.rounds} rounds, "
            f"first batch {args.seed_size} picked by the source-trained model. Mean ± std over seeds "
            f"{args.seeds}. With {args.test_queries} test queries per collection the std over seeds understates the "
            "uncertainty: differences under ~0.05 nDCG@10 are not evidence either way.\n\n" + "\n".join(lines)
            + "\n\nWhat each strategy bought (pool pairs it sent to the LLM, mean over seeds): share the qrels judge "
            "relevant; share the LLM graded 2 or 3; of the qrels-relevant picks, share the LLM graded 2 or 3 "
            "(its recall on what was bought: a relevant pair graded 0-1 teaches the ranker the opposite of the "
            "qrels); and binary agreement of LLM and qrels on the picks:\n\n"
            + "\n".join(f"- {st}: qrels relevant {np.mean([x[0] for x in v]):.1%}, LLM grade >= 2 "
                         f"{np.mean([x[1] for x in v]):.1%}, LLM recall on relevant picks {np.nanmean([x[2] for x in v]):.1%}, "
                         f"agreement {np.mean([x[3] for x in v]):.1%}" for st, v in picks.items()))
    cmd = "python bench/bench_loop_relevance.py " + " ".join(sys.argv[1:])
    write_section(f"loop-relevance-{args.source}-{args.target}",
                  f"Active learning for ranking: ci in its own setting ({args.source} -> {args.target})", body,
                  cmd.strip())


if __name__ == "__main__":
    main()
