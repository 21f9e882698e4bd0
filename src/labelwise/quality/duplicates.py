"""Near-duplicates: pairs of items whose embeddings are almost the same (cosine similarity at
or above a threshold), exact copies left to the text statistics. Plain function over a matrix
of unit vectors, in blocks so memory stays at block x n."""
from __future__ import annotations

from typing import Any

import numpy as np


def near_duplicates(vectors: np.ndarray, threshold: float = 0.95, block: int = 1024,
                    exact: np.ndarray | None = None) -> list[tuple[int, int, float]]:
    """(i, j, similarity) with i < j and cosine >= ``threshold``, most similar first. Rows of
    ``vectors`` are unit length. ``exact``: a group id per row; pairs in one group (exact
    copies) are left out."""
    v = np.asarray(vectors, dtype=np.float32)
    out: list[tuple[int, int, float]] = []
    for start in range(0, len(v), block):
        sims = v[start:start + block] @ v.T
        for r in range(sims.shape[0]):
            i = start + r
            sims[r, :i + 1] = -1.0  # each pair once, never an item with itself
        rows, cols = np.nonzero(sims >= threshold)
        for r, j in zip(rows.tolist(), cols.tolist()):
            i = start + r
            if exact is not None and exact[i] == exact[j]:
                continue
            out.append((i, j, float(sims[r, j])))
    out.sort(key=lambda t: -t[2])
    return out


def near_duplicate_report(texts: list[str], ids: list[str], encode: Any, threshold: float = 0.9,
                          limit: int = 20000, top: int = 50) -> dict[str, Any]:
    """Near-duplicate pairs among the first ``limit`` items, embedded with ``encode``."""
    n = min(len(texts), limit)
    vecs = encode(texts[:n])
    groups = {}
    exact = np.array([groups.setdefault(t.strip().lower(), len(groups)) for t in texts[:n]])
    pairs = near_duplicates(vecs, threshold, exact=exact)
    in_pairs = {i for p in pairs for i in p[:2]}
    return {"checked": n, "of": len(texts), "threshold": threshold, "pairs": len(pairs), "items_in_pairs": len(in_pairs),
            "top": [{"a": ids[i], "b": ids[j], "similarity": s, "text_a": texts[i][:200], "text_b": texts[j][:200]}
                    for i, j, s in pairs[:top]]}
