"""Entity-level NER scores and token accuracy; plain functions over BIO tag sequences.

Entities are decoded with :func:`labelwise.tasks.bio.tags_to_spans` (the conlleval rule: an
``I-X`` after ``O`` or another type opens an entity), and a predicted entity counts only when
its start, end and type all equal a gold entity's. These are the numbers conlleval and
seqeval's default mode report. A ratio with nothing to divide by (precision with no
predicted entities, recall with no gold ones, F1 when both are 0) is 0.0, as in seqeval with
``zero_division=0``, so a report never holds NaN.
"""
from __future__ import annotations

from collections import Counter
from typing import Any, Sequence

import numpy as np

from ..tasks.bio import Span, check_tags, tags_to_spans
from .classification_metrics import expected_calibration_error


def _check_shapes(gold: Sequence[Sequence[str]], pred: Sequence[Sequence[str]]) -> None:
    if len(gold) != len(pred):
        raise ValueError(f"{len(gold)} gold sentences but {len(pred)} predicted sentences")
    for i, (g, p) in enumerate(zip(gold, pred)):
        if isinstance(g, str) or isinstance(p, str):
            raise ValueError(f"sentence {i} is a string; pass one list of tags per sentence")
        if len(g) != len(p):
            raise ValueError(f"sentence {i}: {len(g)} gold tags but {len(p)} predicted tags")


def _prf(tp: int, n_pred: int, n_gold: int) -> dict[str, float]:
    precision = tp / n_pred if n_pred else 0.0
    recall = tp / n_gold if n_gold else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "f1": f1}


def _entities(tags: Sequence[str], types: Sequence[str] | None, where: str) -> set[Span]:
    try:
        if types is not None:
            check_tags(tags, types)
        return set(tags_to_spans(tags))
    except ValueError as e:
        raise ValueError(f"{where}: {e}") from None


def token_accuracy(gold: Sequence[Sequence[str]], pred: Sequence[Sequence[str]]) -> float:
    """Share of tokens whose predicted tag equals the gold tag exactly (B-X vs I-X is wrong).

    Reported next to entity F1 because it is inflated by the many ``O`` tokens; 0.0 when
    there are no tokens.
    """
    _check_shapes(gold, pred)
    n = sum(len(g) for g in gold)
    right = sum(a == b for g, p in zip(gold, pred) for a, b in zip(g, p))
    return right / n if n else 0.0


def ner_report(gold: Sequence[Sequence[str]], pred: Sequence[Sequence[str]],
               types: Sequence[str] | None = None) -> dict[str, Any]:
    """Exact-match entity precision/recall/F1 per type, micro and macro averaged.

    ``types`` fixes the rows of ``per_type`` (and so the macro average, where a type with no
    gold and no predicted entity scores 0); a tag of another type is then a ValueError rather
    than silently left out. Without it the types are those in gold or predictions, as seqeval.
    Micro averages pool every entity; macro averages the per-type numbers unweighted.
    """
    _check_shapes(gold, pred)
    n_gold: Counter[str] = Counter()
    n_pred: Counter[str] = Counter()
    tp: Counter[str] = Counter()
    for i, (g, p) in enumerate(zip(gold, pred)):
        g_spans = _entities(g, types, f"sentence {i}, gold")
        p_spans = _entities(p, types, f"sentence {i}, predicted")
        n_gold.update(t for _, _, t in g_spans)
        n_pred.update(t for _, _, t in p_spans)
        tp.update(t for _, _, t in g_spans & p_spans)
    names = list(types) if types is not None else sorted(set(n_gold) | set(n_pred))
    per_type = {t: {**_prf(tp[t], n_pred[t], n_gold[t]), "support": n_gold[t], "n_pred": n_pred[t], "tp": tp[t]}
                for t in names}
    micro = _prf(sum(tp.values()), sum(n_pred.values()), sum(n_gold.values()))
    macro = {k: (sum(row[k] for row in per_type.values()) / len(per_type) if per_type else 0.0)
             for k in ("precision", "recall", "f1")}
    return {
        "n_sentences": len(gold),
        "n_tokens": sum(len(g) for g in gold),
        "n_gold_entities": sum(n_gold.values()),
        "n_pred_entities": sum(n_pred.values()),
        "tp": sum(tp.values()),
        "micro": micro,
        "macro": macro,
        "micro_f1": micro["f1"],
        "macro_f1": macro["f1"],
        "per_type": per_type,
        "token_accuracy": token_accuracy(gold, pred),
    }


def auroc(score: Sequence[float], positive: Sequence[bool]) -> float | None:
    """Area under the ROC curve: the chance that a random positive scores above a random
    negative (ties count half), from ranks; None when one class is empty."""
    s = np.asarray(score, dtype=float)
    y = np.asarray(positive, dtype=bool)
    n_pos, n_neg = int(y.sum()), int((~y).sum())
    if n_pos == 0 or n_neg == 0:
        return None
    order = np.argsort(s, kind="mergesort")
    ranks = np.empty(len(s))
    sorted_s = s[order]
    i = 0
    while i < len(s):  # average ranks over ties
        j = i
        while j + 1 < len(s) and sorted_s[j + 1] == sorted_s[i]:
            j += 1
        ranks[order[i:j + 1]] = (i + j) / 2 + 1
        i = j + 1
    return float((ranks[y].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def token_confidence_report(gold: Sequence[Sequence[str]], pred: Sequence[Sequence[str]],
                            confidence: Sequence[Sequence[float]]) -> dict[str, Any]:
    """How well per-token confidence tells right tags from wrong ones: AUROC (0.5 = no signal),
    ECE, mean confidence against token accuracy.

    O tokens and entity tokens get their confidence from different parts of the answer (closing
    the list vs writing a mention), and most O tokens are right, so the overall AUROC partly
    measures "O vs entity". ``auroc_entities`` compares only tokens predicted inside an entity:
    does a mention's probability tell right mentions from wrong ones."""
    _check_shapes(gold, pred)
    right, conf, in_entity = [], [], []
    for g, p, c in zip(gold, pred, confidence):
        if len(c) != len(g):
            raise ValueError(f"{len(c)} confidences for a sentence of {len(g)} tokens")
        right += [x == y for x, y in zip(g, p)]
        conf += list(c)
        in_entity += [y != "O" for y in p]
    c_arr, r_arr = np.asarray(conf, dtype=float), np.asarray(right, dtype=float)
    ent = np.asarray(in_entity, dtype=bool)
    return {"n_tokens": len(conf), "auroc": auroc(conf, right),
            "auroc_entities": auroc(c_arr[ent], r_arr[ent].astype(bool)) if ent.any() else None,
            "ece": expected_calibration_error(c_arr, r_arr) if len(conf) else None,
            "mean_confidence": float(c_arr.mean()) if len(conf) else None,
            "token_accuracy": float(r_arr.mean()) if len(conf) else None}
