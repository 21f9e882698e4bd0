"""Suspect labels: which LLM labels disagree most with what the rest of the data says.

Out-of-fold probabilities of the project's small model (each item scored by a model that never
saw its label) go to cleanlab's confident learning (``find_label_issues``, ranked by
``get_label_quality_scores``). Plain functions over arrays, plus one that builds the
probabilities for a project's records.
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np


def label_issues(labels: Sequence[str], pred_probs: np.ndarray, classes: Sequence[str]) -> list[dict[str, Any]]:
    """Items cleanlab flags, most suspect first: index, given label, quality score, the label the
    probabilities favour."""
    from cleanlab.filter import find_label_issues
    from cleanlab.rank import get_label_quality_scores
    idx = {c: j for j, c in enumerate(classes)}
    y = np.array([idx[label] for label in labels])
    probs = np.asarray(pred_probs, dtype=float)
    if probs.shape != (len(y), len(classes)):
        raise ValueError(f"pred_probs must be ({len(y)}, {len(classes)}); got {probs.shape}")
    flagged = find_label_issues(y, probs, filter_by="prune_by_noise_rate")
    scores = get_label_quality_scores(y, probs)
    order = np.flatnonzero(flagged)[np.argsort(scores[flagged], kind="stable")]
    return [{"index": int(i), "label": labels[i], "quality": float(scores[i]),
             "suggested": classes[int(probs[i].argmax())]} for i in order]


def out_of_fold_probs(kind: Any, make_model: Any, records: Sequence[Any], labels: Sequence[str],
                      classes: Sequence[str], folds: int = 5, seed: int = 0) -> np.ndarray:
    """(n, len(classes)) probabilities, each row from a model fit on the other folds."""
    from sklearn.model_selection import StratifiedKFold
    y = np.array([list(classes).index(label) for label in labels])
    counts = np.bincount(y, minlength=len(classes))
    k = int(min(folds, counts[counts > 0].min())) if (counts > 0).sum() > 1 else 0
    if k < 2:
        raise ValueError("label issues need at least two labels with two items each")
    out = np.zeros((len(records), len(classes)))
    X = kind.inputs(records)
    for train, test in StratifiedKFold(k, shuffle=True, random_state=seed).split(np.zeros(len(y)), y):
        m = make_model().fit([X[i] for i in train], [labels[i] for i in train])
        p = m.predict_proba([X[i] for i in test])
        for j, c in enumerate(m.classes_):
            out[test, list(classes).index(c)] = p[:, j]
    return out
