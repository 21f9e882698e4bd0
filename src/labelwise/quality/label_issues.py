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
                      classes: Sequence[str], folds: int = 5, seed: int = 0,
                      groups: Sequence[str] | None = None) -> np.ndarray:
    """(n, len(classes)) probabilities, each row from a model fit on the other folds. With
    ``groups`` (e.g. one item's rows from several annotators), a group's rows share a fold."""
    from sklearn.model_selection import StratifiedGroupKFold, StratifiedKFold
    y = np.array([list(classes).index(label) for label in labels])
    counts = np.bincount(y, minlength=len(classes))
    k = int(min(folds, counts[counts > 0].min())) if (counts > 0).sum() > 1 else 0
    if k < 2:
        raise ValueError("label issues need at least two labels with two items each")
    out = np.zeros((len(records), len(classes)))
    X = kind.inputs(records)
    splits = StratifiedKFold(k, shuffle=True, random_state=seed).split(np.zeros(len(y)), y) if groups is None else \
        StratifiedGroupKFold(k, shuffle=True, random_state=seed).split(np.zeros(len(y)), y, groups)
    for train, test in splits:
        m = make_model().fit([X[i] for i in train], [labels[i] for i in train])
        p = m.predict_proba([X[i] for i in test])
        for j, c in enumerate(m.classes_):
            out[test, list(classes).index(c)] = p[:, j]
    return out


def crowd_label_quality(labels_by_annotator: dict[str, dict[str, Any]], classes: Sequence[str],
                        pred_probs_for: Any) -> dict[str, Any]:
    """CROWDLAB (cleanlab.multiannotator) over several annotators' labels of the same items:
    a consensus label per item with its quality score, and each annotator's estimated quality.

    ``labels_by_annotator``: annotator -> {item id: label or None (an error: missing)};
    ``pred_probs_for(ids, annotations)``: (len(ids), len(classes)) out-of-fold probabilities
    for the items, from a model fit on ``annotations`` ((item id, label) rows, one per
    annotator's label: no vote decides the training labels)."""
    from cleanlab.multiannotator import get_label_quality_multiannotator
    names = sorted(labels_by_annotator)
    idx = {c: j for j, c in enumerate(classes)}
    ids = sorted({rid for n in names for rid, lab in labels_by_annotator[n].items() if lab in idx})
    if len(names) < 2 or not ids:
        raise ValueError("CROWDLAB needs labels of the same items from two or more annotators")
    m = np.full((len(ids), len(names)), np.nan)
    for j, n in enumerate(names):
        got = labels_by_annotator[n]
        for i, rid in enumerate(ids):
            if got.get(rid) in idx:
                m[i, j] = idx[got[rid]]
    if (np.sum(~np.isnan(m), axis=1) >= 2).sum() == 0:
        raise ValueError("CROWDLAB needs items labeled by two or more annotators")
    rows = [(ids[i], classes[int(m[i, j])]) for i in range(len(ids)) for j in range(len(names)) if not np.isnan(m[i, j])]
    probs = np.asarray(pred_probs_for(ids, rows), dtype=float)
    import pandas as pd
    frame = pd.DataFrame(m, columns=names)
    keep = [j for j in range(len(names)) if not np.isnan(m[:, j]).all()]
    res = get_label_quality_multiannotator(frame.iloc[:, keep], probs, verbose=False)
    lq, stats = res["label_quality"], res["annotator_stats"]
    order = np.argsort(lq["consensus_quality_score"].to_numpy(), kind="stable")
    return {
        "annotators": [{"annotator": str(a), "quality": float(row["annotator_quality"]),
                        "agreement_with_consensus": float(row["agreement_with_consensus"]),
                        "worst_class": classes[int(row["worst_class"])]} for a, row in stats.iterrows()],
        "items": [{"record_id": ids[i], "consensus": classes[int(lq["consensus_label"].iloc[i])],
                   "quality": float(lq["consensus_quality_score"].iloc[i]),
                   "agreement": float(lq["annotator_agreement"].iloc[i]),
                   "annotations": int(lq["num_annotations"].iloc[i])} for i in order],
    }
