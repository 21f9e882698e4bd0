"""Accuracy, F1, confusion and calibration for labels against gold; plain functions."""
from __future__ import annotations

import math
from typing import Any, Mapping, Sequence

import numpy as np


def wilson_interval(successes: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """95% Wilson score interval for a proportion (sound for small n and p near 0 or 1)."""
    if n == 0:
        return (0.0, 1.0)
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return (max(0.0, centre - half), min(1.0, centre + half))


def confusion_matrix(gold: Sequence[str], pred: Sequence[str], labels: Sequence[str]) -> np.ndarray:
    idx = {l: i for i, l in enumerate(labels)}
    m = np.zeros((len(labels), len(labels)), dtype=int)
    for g, p in zip(gold, pred):
        m[idx[g], idx[p]] += 1
    return m


def per_class_prf(cm: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    tp = np.diag(cm).astype(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        precision = np.where(cm.sum(0) > 0, tp / cm.sum(0), 0.0)
        recall = np.where(cm.sum(1) > 0, tp / cm.sum(1), 0.0)
        f1 = np.where(precision + recall > 0, 2 * precision * recall / (precision + recall), 0.0)
    return precision, recall, f1


def expected_calibration_error(confidence: np.ndarray, correct: np.ndarray, bins: int = 10) -> float:
    """ECE over equal-width confidence bins: how far stated confidence is from accuracy."""
    if len(confidence) == 0:
        return float("nan")
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.digitize(confidence, edges[1:-1], right=True), 0, bins - 1)
    ece = 0.0
    for b in range(bins):
        mask = which == b
        if mask.any():
            ece += mask.mean() * abs(confidence[mask].mean() - correct[mask].mean())
    return float(ece)


def classification_report(gold: Sequence[Any], pred: Sequence[Any],
                          dists: Sequence[Mapping[str, float] | None],
                          labels: Sequence[str]) -> dict[str, Any]:
    """Metrics over the items that have both a gold label and a predicted label."""
    rows = [(g, p, d) for g, p, d in zip(gold, pred, dists) if g is not None and p is not None]
    n = len(rows)
    if n == 0:
        return {"n": 0}
    g = [r[0] for r in rows]
    p = [r[1] for r in rows]
    cm = confusion_matrix(g, p, labels)
    prec, rec, f1 = per_class_prf(cm)
    correct = np.array([a == b for a, b in zip(g, p)], dtype=float)
    k = int(correct.sum())
    out: dict[str, Any] = {
        "n": n,
        "accuracy": k / n,
        "accuracy_ci95": wilson_interval(k, n),
        "macro_f1": float(f1.mean()),
        "per_class": {l: {"precision": float(prec[i]), "recall": float(rec[i]), "f1": float(f1[i]),
                          "support": int(cm[i].sum())} for i, l in enumerate(labels)},
        "confusion": {"labels": list(labels), "matrix": cm.tolist()},
    }
    scored = [(r[2], c) for r, c in zip(rows, correct) if r[2]]
    if scored:
        conf = np.array([max(d.values()) for d, _ in scored])
        corr = np.array([c for _, c in scored])
        onehot = np.array([[float(l == gg) for l in labels] for (gg, _, d) in rows if d])
        probs = np.array([[d.get(l, 0.0) for l in labels] for (_, _, d) in rows if d])
        out["calibration"] = {"ece": expected_calibration_error(conf, corr),
                              "brier": float(((probs - onehot) ** 2).sum(1).mean()),
                              "mean_confidence": float(conf.mean())}
    return out


def multilabel_report(gold: Sequence[Any], pred: Sequence[Any], labels: Sequence[str]) -> dict[str, Any]:
    rows = [(set(g), set(p)) for g, p in zip(gold, pred) if g is not None and p is not None]
    n = len(rows)
    if n == 0:
        return {"n": 0}
    per: dict[str, dict[str, float]] = {}
    tp_all = fp_all = fn_all = 0
    for l in labels:
        tp = sum(l in g and l in p for g, p in rows)
        fp = sum(l not in g and l in p for g, p in rows)
        fn = sum(l in g and l not in p for g, p in rows)
        tp_all, fp_all, fn_all = tp_all + tp, fp_all + fp, fn_all + fn
        pr = tp / (tp + fp) if tp + fp else 0.0
        rc = tp / (tp + fn) if tp + fn else 0.0
        per[l] = {"precision": pr, "recall": rc, "f1": 2 * pr * rc / (pr + rc) if pr + rc else 0.0,
                  "support": tp + fn}
    mp = tp_all / (tp_all + fp_all) if tp_all + fp_all else 0.0
    mr = tp_all / (tp_all + fn_all) if tp_all + fn_all else 0.0
    exact = sum(g == p for g, p in rows)
    return {
        "n": n,
        "subset_accuracy": exact / n,
        "accuracy": exact / n,
        "accuracy_ci95": wilson_interval(exact, n),
        "micro_f1": 2 * mp * mr / (mp + mr) if mp + mr else 0.0,
        "macro_f1": float(np.mean([v["f1"] for v in per.values()])),
        "hamming_loss": sum(len(g ^ p) for g, p in rows) / (n * len(labels)),
        "per_class": per,
    }
