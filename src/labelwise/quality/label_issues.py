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


def token_label_issues(tags: Sequence[Sequence[str]], marginals: Sequence[np.ndarray],
                       tag_names: Sequence[str], top: int | None = None) -> list[dict[str, Any]]:
    """NER: tokens ranked by cleanlab's token label quality (``cleanlab.token_classification``,
    self-confidence), most suspect first, at most ``top`` (default: the flagged ones only);
    each with sentence index, token index, given tag, the tag the probabilities favour, token
    quality, the sentence's quality (its lowest token's) and ``flagged``: whether confident
    learning counts it as a label issue."""
    from cleanlab.token_classification.filter import find_label_issues as find_token_issues
    from cleanlab.token_classification.rank import get_label_quality_scores as token_scores
    idx = {t: j for j, t in enumerate(tag_names)}
    labels = [[idx[t] for t in s] for s in tags]
    probs = [np.asarray(m, dtype=float) for m in marginals]
    keep = [i for i, s in enumerate(labels) if s]
    if not keep:
        return []
    labels, probs = [labels[i] for i in keep], [probs[i] for i in keep]
    flagged = set(find_token_issues(labels, probs))
    sentence_q, token_q = token_scores(labels, probs)
    ranked = sorted(((float(token_q[s].iloc[t]), s, t) for s in range(len(labels)) for t in range(len(labels[s]))))
    if top is None:
        ranked = [x for x in ranked if (x[1], x[2]) in flagged]
    return [{"sentence": keep[s], "token": t, "tag": tag_names[labels[s][t]],
             "suggested": tag_names[int(probs[s][t].argmax())], "quality": q,
             "sentence_quality": float(sentence_q[s]), "flagged": (s, t) in flagged} for q, s, t in ranked[:top]]


def out_of_fold_marginals(make_model: Any, sentences: Sequence[Sequence[str]], tags: Sequence[Sequence[str]],
                          tag_names: Sequence[str], folds: int = 5, seed: int = 0) -> list[np.ndarray]:
    """Per sentence an (n_tokens, len(tag_names)) array of token marginals from a tagger fit on
    the other folds (a tag a fold's model never saw gets probability 0)."""
    from sklearn.model_selection import KFold
    if len(sentences) < 2 * folds:
        folds = len(sentences) // 2
    if folds < 2:
        raise ValueError("token label issues need at least four sentences")
    out: list[np.ndarray] = [np.zeros((len(s), len(tag_names))) for s in sentences]
    col = {t: j for j, t in enumerate(tag_names)}
    for train, test in KFold(folds, shuffle=True, random_state=seed).split(np.zeros(len(sentences))):
        m = make_model().fit([list(sentences[i]) for i in train], [list(tags[i]) for i in train])
        for i, marg in zip(test, m.token_marginals([list(sentences[i]) for i in test])):
            for j, t in enumerate(m.tags_):
                out[i][:, col[t]] = marg[:, j]
    return out
