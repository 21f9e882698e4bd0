"""A relevance project's data from a BEIR folder: each query's BM25 top-k documents as
(query, document) pairs, with the judged grade where there is one (0 where the collection
says unjudged means not relevant), and BM25's own score for the baseline ranking."""
from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

from .beir import read_beir
from .bm25 import bm25_candidates


def build_pairs(folder: str | Path, k: int = 20, split: str = "test", max_queries: int | None = None,
                seed: int = 0, unjudged: int | None = 0, analyzer: str = "english") -> list[dict[str, Any]]:
    """Rows with id, query_id, query, doc_id, document, label, bm25. ``unjudged``: the grade of
    a candidate the qrels do not list (None: leave it without a label); ``analyzer``: BM25's
    tokenizer (``bm25.analyzer``)."""
    corpus, queries, qrels = read_beir(folder, split)
    qids = [q for q in queries if q in qrels]
    if max_queries is not None and max_queries < len(qids):
        qids = sorted(random.Random(seed).sample(qids, max_queries), key=lambda q: (len(q), q))
    cands = bm25_candidates(corpus, {q: queries[q] for q in qids}, k, analyzer)
    rows = []
    for q in qids:
        for d, score in cands[q]:
            grade = qrels[q].get(d, unjudged)
            rows.append({"id": f"{q}|{d}", "query_id": q, "query": queries[q], "doc_id": d, "document": corpus[d],
                         "label": grade, "bm25": round(score, 6)})
    return rows


def write_jsonl(rows: list[dict[str, Any]], path: str | Path) -> None:
    from ..data.writers import replacing
    with replacing(path) as tmp, open(tmp, "w", encoding="utf-8") as f:
        for r in rows:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")
