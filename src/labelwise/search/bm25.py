"""BM25 candidates per query (``rank_bm25``'s Okapi BM25 over lower-cased word tokens)."""
from __future__ import annotations

import re
from typing import Mapping


_WORD = re.compile(r"\w+")


def tokens(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def bm25_candidates(corpus: Mapping[str, str], queries: Mapping[str, str], k: int) -> dict[str, list[tuple[str, float]]]:
    """query id -> its top ``k`` documents by BM25, best first (ties by document id)."""
    from rank_bm25 import BM25Okapi
    ids = list(corpus)
    bm = BM25Okapi([tokens(corpus[d]) or [""] for d in ids])
    out = {}
    for q, text in queries.items():
        scores = bm.get_scores(tokens(text))
        order = sorted(range(len(ids)), key=lambda i: (-scores[i], ids[i]))[:k]
        out[q] = [(ids[i], float(scores[i])) for i in order]
    return out


def ranking_from(cands: Mapping[str, list[tuple[str, float]]]) -> dict[str, dict[str, float]]:
    return {q: {d: s for d, s in docs} for q, docs in cands.items()}

