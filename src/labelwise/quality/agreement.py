"""Agreement between annotators over the items they share: Cohen's kappa per pair, Fleiss'
kappa over items every annotator rated, Krippendorff's alpha over all of it (missing ratings
allowed: an errored answer is a missing rating, not a category). Plain functions over a
{annotator: {item: label}} mapping; the statistics come from scikit-learn and `krippendorff`.
"""
from __future__ import annotations

import itertools
import math
from typing import Any, Hashable, Mapping, Sequence

import numpy as np

from .consistency import fleiss_kappa

Ratings = Mapping[str, Mapping[str, Hashable | None]]


def _key(label: Any) -> Hashable | None:
    """A hashable category: label sets (multi-label) and tag sequences (NER) as tuples."""
    if label is None:
        return None
    return tuple(label) if isinstance(label, (list, tuple)) else label


def reliability_matrix(ratings: Ratings, order: Sequence[Hashable] | None = None) -> tuple[np.ndarray, list, list]:
    """(annotators x items) category codes with nan where an annotator gave no label, the items,
    and the categories (``order`` for ordinal labels, e.g. relevance grades 0-3)."""
    raters = list(ratings)
    items = sorted({i for r in raters for i in ratings[r]})
    cats = list(order) if order is not None else sorted({_key(v) for r in raters for v in ratings[r].values()
                                                        if v is not None}, key=str)
    code = {c: j for j, c in enumerate(cats)}
    m = np.full((len(raters), len(items)), np.nan)
    for a, r in enumerate(raters):
        for b, item in enumerate(items):
            v = _key(ratings[r].get(item))
            if v is not None:
                if v not in code:
                    raise ValueError(f"label {v!r} of {r} on item {item} is not in the given order {cats}")
                m[a, b] = code[v]
    return m, items, cats


def krippendorff_alpha(ratings: Ratings, level: str = "nominal", order: Sequence[Hashable] | None = None) -> float:
    """Krippendorff's alpha (``level`` nominal or ordinal); nan when fewer than two categories
    or no item has two ratings."""
    import krippendorff
    m, _, cats = reliability_matrix(ratings, order)
    pairable = (np.isfinite(m).sum(axis=0) >= 2).sum()
    if len(cats) < 2 or pairable == 0:
        return float("nan")
    return float(krippendorff.alpha(reliability_data=m, level_of_measurement=level))


def pairwise_cohen(ratings: Ratings) -> list[dict[str, Any]]:
    """Cohen's kappa for each pair of annotators over the items both labeled."""
    from sklearn.metrics import cohen_kappa_score
    out = []
    for a, b in itertools.combinations(list(ratings), 2):
        shared = sorted(i for i in ratings[a] if i in ratings[b] and ratings[a][i] is not None
                        and ratings[b][i] is not None)
        x = [str(_key(ratings[a][i])) for i in shared]
        y = [str(_key(ratings[b][i])) for i in shared]
        kappa = float("nan") if len(set(x) | set(y)) < 2 else float(cohen_kappa_score(x, y))
        agree = sum(p == q for p, q in zip(x, y)) / len(shared) if shared else float("nan")
        out.append({"a": a, "b": b, "items": len(shared), "agreement": agree, "cohen_kappa": kappa})
    return out


def agreement_report(ratings: Ratings, level: str = "nominal", order: Sequence[Hashable] | None = None) -> dict[str, Any]:
    """Everything at once; Fleiss' kappa over the items every annotator labeled."""
    raters = list(ratings)
    full = sorted(set.intersection(*[{i for i, v in ratings[r].items() if v is not None} for r in raters])) \
        if raters else []
    fleiss = fleiss_kappa([[str(_key(ratings[r][i])) for r in raters] for i in full]) if len(raters) >= 2 and full \
        else float("nan")
    alpha = krippendorff_alpha(ratings, level, order) if len(raters) >= 2 else float("nan")
    return {"annotators": raters, "pairs": pairwise_cohen(ratings), "fleiss_kappa": fleiss,
            "fleiss_items": len(full), "krippendorff_alpha": alpha, "level": level,
            "items": len({i for r in raters for i in ratings[r]})}


def finite_or_none(x: float) -> float | None:
    return None if x is None or (isinstance(x, float) and math.isnan(x)) else x
