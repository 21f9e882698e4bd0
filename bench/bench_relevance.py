"""The LLM as a relevance judge and re-ranker (issue 12): Cranfield and CISI (../shared/datasets,
human-judged, BEIR layout).

Per collection: a seeded sample of queries that have judgements; each query's BM25 top-k
(`labelwise search pairs`); the default annotator (`qwen2.5-coder-1.5b-instruct`, embedded,
zero-shot, the relevance task's default grades) grades every pair through the engine. Documents
are cut to their first `--words` words (stated in the table). Reported:

- grade agreement with the qrels on the pairs the qrels judge (quadratic-weighted Cohen's kappa,
  exact agreement), and on all pairs with unjudged = 0;
- the ranking of each query's k candidates: BM25's own order against the LLM's expected grade,
  nDCG@10, MRR@10 and MAP over the candidate set (Recall@100 is not shown: k < 100), with a
  95% bootstrap interval (over queries) for the difference LLM - BM25.
"""
from __future__ import annotations

import argparse
import csv
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from results import shared_datasets, write_section  # noqa: E402

from labelwise.project import Project  # noqa: E402
from labelwise.search.metrics import average_precision, ndcg_at, ranking_metrics, rr_at  # noqa: E402
from labelwise.search.pairs import build_pairs  # noqa: E402
from labelwise.tasks.relevance import expected_grade  # noqa: E402

MODEL = "qwen2.5-coder-1.5b-instruct"


def per_query(qrels: dict, run: dict) -> dict[str, np.ndarray]:
    out = {"ndcg@10": [], "mrr@10": [], "map": []}
    for q, judged in sorted(qrels.items()):
        if not any(g > 0 for g in judged.values()):
            continue
        ranked = [d for d, _ in sorted(run[q].items(), key=lambda kv: (-kv[1], kv[0]))]
        out["ndcg@10"].append(ndcg_at(judged, ranked, 10))
        out["mrr@10"].append(rr_at(judged, ranked, 10))
        out["map"].append(average_precision(judged, ranked))
    return {k: np.array(v) for k, v in out.items()}


def boot_diff(a: np.ndarray, b: np.ndarray, n: int = 2000, seed: int = 0) -> tuple[float, float]:
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(a), (n, len(a)))
    d = (a[idx] - b[idx]).mean(axis=1)
    return float(np.percentile(d, 2.5)), float(np.percentile(d, 97.5))


def run_collection(name: str, args: argparse.Namespace) -> list[str]:
    folder = shared_datasets() / name
    per = dict(x.split("=") for x in args.queries_per.split(",") if x) if args.queries_per else {}
    rows = build_pairs(folder, k=args.k, max_queries=int(per.get(name, args.queries)), seed=args.seed, unjudged=None)
    for r in rows:
        r["document"] = " ".join(r["document"].split()[:args.words])
    work = Path(args.workdir) / name
    work.mkdir(parents=True, exist_ok=True)
    with open(work / "pairs.csv", "w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=["id", "query", "document", "label"])
        w.writeheader()
        w.writerows({"id": r["id"], "query": r["query"], "document": r["document"], "label": ""} for r in rows)
    (work / "labelwise.yaml").write_text(
        "task: {kind: relevance, text_field: query, text_pair_field: document}\n"
        "data: {path: pairs.csv, id_field: id, label_field: label}\n"
        f"annotator: {{backend: llamacpp, model: {MODEL}" + (f", n_threads: {args.threads}" if args.threads else "")
        + "}\n", encoding="utf-8")
    p = Project.open(work)
    t0 = time.perf_counter()
    s = p.run(watch_gold=False)
    secs = time.perf_counter() - t0
    cur = p.current_annotations()
    p.annotator.unload()
    print(f"  {name}: {s.calls} new calls in {secs:.0f} s", flush=True)
    by_id = {r["id"]: r for r in rows}
    ok = {i: a for i, a in cur.items() if not a.error}

    def binary(pairs: list) -> dict:
        from sklearn.metrics import cohen_kappa_score
        g, l = [x for x, _ in pairs], [y for _, y in pairs]
        return {"n": len(pairs), "agreement": float(np.mean([a == b for a, b in pairs])) if pairs else None,
                "kappa": float(cohen_kappa_score(g, l)) if len(set(g)) > 1 and len(set(l)) > 1 else None}
    said = {i: int(a.label) >= 2 for i, a in ok.items()}  # the LLM calls it relevant: grade 2 or 3
    gj = binary([(by_id[i]["label"] >= 1, said[i]) for i in ok if by_id[i]["label"] is not None])
    ga = binary([((by_id[i]["label"] or 0) >= 1, said[i]) for i in ok])
    qrels: dict = {}
    bm25, llm = {}, {}
    for r in rows:
        qrels.setdefault(r["query_id"], {})[r["id"]] = int(r["label"] or 0)
        bm25.setdefault(r["query_id"], {})[r["id"]] = r["bm25"]
        a = cur.get(r["id"])
        llm.setdefault(r["query_id"], {})[r["id"]] = expected_grade(a.distribution, a.label) if a and not a.error else 0.0
    pb, pl = per_query(qrels, bm25), per_query(qrels, llm)
    mb, ml = ranking_metrics(qrels, bm25), ranking_metrics(qrels, llm)
    errors = sum(1 for a in cur.values() if a.error)
    lines = [f"**{name}**: {len({r['query_id'] for r in rows})} queries x BM25 top {args.k} = {len(rows)} pairs "
             f"({gj['n']} judged by the qrels), documents cut to {args.words} words; {errors} answers unreadable; "
             f"{secs / max(s.calls, 1):.2f} s per new pair." if s.calls else
             f"**{name}**: {len(rows)} pairs (replayed from the cache)", "",
             "| relevant (qrels grade >= 1) vs LLM grade >= 2 | pairs | agreement | Cohen's kappa |",
             "|---|---|---|---|"]
    for title, g in (("judged pairs", gj), ("all pairs, unjudged = not relevant", ga)):
        if g["n"]:
            kappa = "n/a" if g["kappa"] is None else f"{g['kappa']:.3f}"
            lines.append(f"| {title} | {g['n']} | {g['agreement']:.1%} | {kappa} |")
    lines += ["", f"| ranking of the {args.k} candidates ({mb['queries']} queries with a relevant one) | BM25 | LLM "
              "expected grade | LLM - BM25 (95% bootstrap) |", "|---|---|---|---|"]
    for k in ("ndcg@10", "mrr@10", "map"):
        lo, hi = boot_diff(pl[k], pb[k])
        lines.append(f"| {k} | {mb[k]:.3f} | {ml[k]:.3f} | {ml[k] - mb[k]:+.3f} [{lo:+.3f}, {hi:+.3f}] |")
    json.dump({"bm25": mb, "llm": ml, "judged": gj, "all": ga}, open(work / "result.json", "w"), indent=1)
    return lines


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--collections", default="ir_cranfield,ir_cisi")
    ap.add_argument("--queries", type=int, default=15)
    ap.add_argument("--queries-per", default="", help="per collection, e.g. ir_cranfield=15,ir_cisi=8")
    ap.add_argument("--k", type=int, default=20)
    ap.add_argument("--words", type=int, default=150)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--workdir", default="/tmp/labelwise-bench-relevance")
    args = ap.parse_args()
    cmd = "python bench/bench_relevance.py " + " ".join(sys.argv[1:])
    parts = []
    for name in args.collections.split(","):
        print(f"== {name}", flush=True)
        parts.append("\n".join(run_collection(name, args)))
        body = (f"Annotator: `{MODEL}` (embedded, zero-shot, the relevance task's default grades 0-3, scored from "
                "the grade tokens). The collections' scales differ from ours (Cranfield grades 4 = most relevant .. "
                "1, CISI only 1 = relevant), so agreement is binary: a qrels grade >= 1 against an LLM grade >= 2; the "
                "ranking metrics use the qrels grades as gains (any grade >= 1 relevant). This measures the LLM as a judge and as a re-ranker of "
                "BM25's candidates; the fine-tuned ranker and the loop's strategies are not in this table.\n\n"
                + "\n\n".join(parts))
        write_section("relevance", "Search relevance: the LLM as judge and re-ranker of BM25 candidates", body,
                      cmd.strip())


if __name__ == "__main__":
    main()
