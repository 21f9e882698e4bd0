"""BM25's analyzer on real collections: every lower-cased word ("plain") against English stop
words dropped and Snowball stems ("english", the default), on all judged queries of Cranfield and
CISI (../shared/datasets, BEIR folders). nDCG@10, MRR@10, Recall@100 and MAP over the full
corpus (labelwise.search.metrics, checked against ir-measures in the tests), with a 95% interval
for the mean per-query nDCG@10 difference (paired bootstrap over queries, 2,000 resamples).

Re-run: ``.venv/bin/python bench/bench_bm25.py`` (seconds; ``--print-only`` leaves RESULTS.md alone).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from results import shared_datasets, write_section  # noqa: E402

from labelwise.search.beir import read_beir  # noqa: E402
from labelwise.search.bm25 import bm25_candidates, ranking_from  # noqa: E402
from labelwise.search.metrics import ndcg_at, ranking_metrics  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--collections", default="ir_cranfield,ir_cisi")
    ap.add_argument("--depth", type=int, default=100, help="documents ranked per query")
    ap.add_argument("--print-only", action="store_true")
    a = ap.parse_args()
    rng = np.random.default_rng(0)
    lines = ["| collection | queries | analyzer | nDCG@10 | MRR@10 | Recall@100 | MAP |", "|---|---:|---|---:|---:|---:|---:|"]
    diffs = []
    for name in a.collections.split(","):
        corpus, queries, qrels = read_beir(shared_datasets() / name, "test")
        judged = {q: g for q, g in qrels.items() if q in queries and any(v > 0 for v in g.values())}
        per_query = {}
        for analyzer in ("plain", "english"):
            run = ranking_from(bm25_candidates(corpus, {q: queries[q] for q in judged}, a.depth, analyzer))
            m = ranking_metrics(judged, run)
            lines.append(f"| {name} | {m['queries']} | {analyzer} | {m['ndcg@10']:.3f} | {m['mrr@10']:.3f} | "
                         f"{m['recall@100']:.3f} | {m['map']:.3f} |")
            ranked = {q: sorted(run[q], key=lambda d: (-run[q][d], d)) for q in judged}
            per_query[analyzer] = np.array([ndcg_at(judged[q], ranked[q], 10) for q in judged])
        d = per_query["english"] - per_query["plain"]
        boot = [d[rng.integers(0, len(d), len(d))].mean() for _ in range(2000)]
        lo, hi = np.percentile(boot, [2.5, 97.5])
        diffs.append(f"- {name}: english − plain nDCG@10 = {d.mean():+.3f} (95% bootstrap interval {lo:+.3f} to "
                     f"{hi:+.3f}, {len(d)} queries; better on {int((d > 0).sum())}, worse on {int((d < 0).sum())})")
    body = "\n".join([f"BM25 (rank_bm25 Okapi, default k1/b) over each whole corpus, top {a.depth} per query; every "
                      "judged query of the test qrels; gains are the qrels grades.", "", *lines, "", *diffs])
    if a.print_only:
        print(body)
    else:
        write_section("bm25", "BM25 analyzers: plain words against English stems", body,
                      ".venv/bin/python bench/bench_bm25.py")


if __name__ == "__main__":
    main()
