"""Agreement between repeated labelings of the same items: plain functions.

Labels are compared with ``==`` only, so they may be anything a task produces: a class name,
a tuple of labels (multi-label), a tuple of BIO tags (NER). Kappas need categories to count,
so they take hashable labels (strings for single-label classification).

Rows are items, columns are raters (or repeats of one annotator): ``rows[i][j]`` is the label
rater ``j`` gave item ``i``.
"""
from __future__ import annotations

import math
from collections import Counter
from itertools import combinations
from typing import Any, Hashable, Sequence

import numpy as np


def all_equal_share(rows: Sequence[Sequence[Any]]) -> float:
    """Share of items whose labels are identical in every column (1.0 for one column).

    The strictest reading of consistency: one differing repeat makes the item inconsistent."""
    if not rows:
        return float("nan")
    return sum(all(x == r[0] for x in r[1:]) for r in rows) / len(rows)


def item_pairwise_agreement(row: Sequence[Any]) -> float:
    """Share of the k(k-1)/2 pairs of columns that agree on one item."""
    pairs = list(combinations(row, 2))
    if not pairs:
        return float("nan")
    return sum(a == b for a, b in pairs) / len(pairs)


def mean_pairwise_agreement(rows: Sequence[Sequence[Any]]) -> float:
    """Mean over items of the pairwise agreement (Fleiss' P-bar); nan without two columns.

    Gentler than :func:`all_equal_share`: 2 of 3 repeats agreeing counts 1/3, not 0."""
    vals = [item_pairwise_agreement(r) for r in rows if len(r) >= 2]
    return sum(vals) / len(vals) if vals else float("nan")


def category_counts(rows: Sequence[Sequence[Hashable]],
                    categories: Sequence[Hashable] | None = None) -> tuple[np.ndarray, list[Hashable]]:
    """Items x categories matrix of how many columns chose each category."""
    cats = list(categories) if categories is not None else list(dict.fromkeys(x for r in rows for x in r))
    idx = {c: j for j, c in enumerate(cats)}
    m = np.zeros((len(rows), len(cats)), dtype=float)
    for i, r in enumerate(rows):
        for x in r:
            m[i, idx[x]] += 1
    return m, cats


def fleiss_kappa_counts(counts: np.ndarray) -> float:
    """Fleiss' kappa (1971) from an items x categories count matrix, equal raters per item.

    kappa = (P_bar - P_e) / (1 - P_e): observed pairwise agreement beyond the agreement the
    overall category shares give by chance. nan when chance agreement is 1 (one category only).
    """
    counts = np.asarray(counts, dtype=float)
    if counts.ndim != 2 or counts.shape[0] == 0:
        return float("nan")
    n = counts.sum(1)
    if not np.all(n == n[0]) or n[0] < 2:
        raise ValueError("Fleiss' kappa needs the same number (>= 2) of ratings for every item")
    raters = n[0]
    p_item = ((counts * counts).sum(1) - raters) / (raters * (raters - 1))
    p_bar = p_item.mean()
    p_cat = counts.sum(0) / counts.sum()
    p_e = float((p_cat * p_cat).sum())
    if math.isclose(p_e, 1.0):
        return float("nan")
    return float((p_bar - p_e) / (1 - p_e))


def fleiss_kappa(rows: Sequence[Sequence[Hashable]]) -> float:
    """Fleiss' kappa over label rows (each item rated by the same number of columns)."""
    if not rows:
        return float("nan")
    return fleiss_kappa_counts(category_counts(rows)[0])


def cohen_kappa(a: Sequence[Hashable], b: Sequence[Hashable]) -> float:
    """Cohen's kappa (1960) for two raters: (p_o - p_e) / (1 - p_e); nan when p_e is 1."""
    if len(a) != len(b):
        raise ValueError(f"the two raters labeled {len(a)} and {len(b)} items; pair them up first")
    if not a:
        return float("nan")
    n = len(a)
    p_o = sum(x == y for x, y in zip(a, b)) / n
    ca, cb = Counter(a), Counter(b)
    p_e = sum(ca[c] * cb[c] for c in ca) / (n * n)
    if math.isclose(p_e, 1.0):
        return float("nan")
    return (p_o - p_e) / (1 - p_e)
