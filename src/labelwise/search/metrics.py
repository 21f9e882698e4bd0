"""Ranking metrics over qrels (query -> {doc: grade}) and a run (query -> {doc: score}), the
definitions trec_eval uses: linear gain and log2 discount for nDCG, relevance = grade >= 1 for
MRR, recall and average precision; a query's documents ordered by score, ties by document id.
Averaged over the queries that have at least one relevant judged document. Checked against
``ir-measures`` (pytrec_eval) in the tests."""
from __future__ import annotations

import math
from typing import Any, Mapping, Sequence


def _ranked(scores: Mapping[str, float]) -> list[str]:
    return [d for d, _ in sorted(scores.items(), key=lambda kv: (-kv[1], kv[0]))]


def ndcg_at(qrels: Mapping[str, int], ranked: Sequence[str], k: int) -> float:
    dcg = sum(qrels.get(d, 0) / math.log2(i + 2) for i, d in enumerate(ranked[:k]) if qrels.get(d, 0) > 0)
    ideal = sorted((g for g in qrels.values() if g > 0), reverse=True)[:k]
    idcg = sum(g / math.log2(i + 2) for i, g in enumerate(ideal))
    return dcg / idcg if idcg else 0.0


def rr_at(qrels: Mapping[str, int], ranked: Sequence[str], k: int) -> float:
    return next((1.0 / (i + 1) for i, d in enumerate(ranked[:k]) if qrels.get(d, 0) > 0), 0.0)


def recall_at(qrels: Mapping[str, int], ranked: Sequence[str], k: int) -> float:
    rel = {d for d, g in qrels.items() if g > 0}
    return len(rel & set(ranked[:k])) / len(rel) if rel else 0.0


def average_precision(qrels: Mapping[str, int], ranked: Sequence[str]) -> float:
    rel = {d for d, g in qrels.items() if g > 0}
    hits, total = 0, 0.0
    for i, d in enumerate(ranked):
        if d in rel:
            hits += 1
            total += hits / (i + 1)
    return total / len(rel) if rel else 0.0


def ranking_metrics(qrels: Mapping[str, Mapping[str, int]], run: Mapping[str, Mapping[str, float]]) -> dict[str, Any]:
    """Mean nDCG@10, MRR@10, Recall@100 and MAP, and how many queries they are over."""
    per = []
    for q, judged in qrels.items():
        if not any(g > 0 for g in judged.values()):
            continue
        ranked = _ranked(run.get(q, {}))
        per.append((ndcg_at(judged, ranked, 10), rr_at(judged, ranked, 10), recall_at(judged, ranked, 100),
                    average_precision(judged, ranked)))
    n = len(per)
    mean = (lambda i: sum(p[i] for p in per) / n if n else None)  # noqa: E731
    return {"queries": n, "ndcg@10": mean(0), "mrr@10": mean(1), "recall@100": mean(2), "map": mean(3)}


def grade_agreement(gold: Sequence[Any], pred: Sequence[Any], grades: Sequence[str]) -> dict[str, Any]:
    """Exact agreement and quadratic-weighted Cohen's kappa of predicted grades with judged ones."""
    pairs = [(int(g), int(p)) for g, p in zip(gold, pred) if g is not None and p is not None]
    if not pairs:
        return {"n": 0, "accuracy": None, "weighted_kappa": None}
    from sklearn.metrics import cohen_kappa_score
    g, p = zip(*pairs)
    labels = sorted(int(x) for x in grades)
    kappa = cohen_kappa_score(g, p, labels=labels, weights="quadratic") if len(set(g) | set(p)) > 1 else float("nan")
    return {"n": len(pairs), "accuracy": sum(a == b for a, b in pairs) / len(pairs),
            "weighted_kappa": None if math.isnan(kappa) else float(kappa),
            "grade_labels": [str(x) for x in labels],
            "grade_confusion": [[sum(1 for a, b in pairs if a == i and b == j) for j in labels] for i in labels]}
