"""Confidence of one stage's label, from whatever that stage has: plain functions.

The router ranks items by a stage's confidence and a threshold calibrated on gold decides which
it keeps, so any measure where higher means "more likely right" will do; these are the ones our
stages can produce. Unlike ``strategies.scoring`` (uncertainties, higher = label it next), all
of these are confidences: higher = trust this label more.
"""
from __future__ import annotations

from collections import Counter
from typing import Any, Hashable, Mapping, Sequence

import numpy as np


def _sorted_probs(dist: Mapping[Any, float] | np.ndarray | Sequence[float]) -> tuple[np.ndarray, bool]:
    """Probabilities sorted high to low along the last axis, and whether the input was one item."""
    p = np.asarray(list(dist.values()) if isinstance(dist, Mapping) else dist, dtype=float)
    if p.ndim not in (1, 2) or p.shape[-1] < 1:
        raise ValueError(f"need a label distribution (dict or 1-D) or an (n, k) array; got shape {p.shape}")
    if not np.isfinite(p).all() or (p < 0).any():
        raise ValueError("probabilities must be finite and non-negative")
    return -np.sort(-p, axis=-1), p.ndim == 1


def top_probability(dist: Mapping[Any, float] | np.ndarray | Sequence[float]) -> float | np.ndarray:
    """Probability of the chosen (top) label: a float for one distribution, (n,) for an (n, k) array."""
    p, one = _sorted_probs(dist)
    top = p[..., 0]
    return float(top) if one else top


def margin(dist: Mapping[Any, float] | np.ndarray | Sequence[float]) -> float | np.ndarray:
    """Top-1 minus top-2 probability: small when the model hesitates between two labels, even if
    the top probability looks high among many classes. With one label the margin is its probability."""
    p, one = _sorted_probs(dist)
    second = p[..., 1] if p.shape[-1] > 1 else np.zeros(p.shape[:-1])
    m = p[..., 0] - second
    return float(m) if one else m


def vote_share(member_labels: Sequence[Hashable | None], weights: Sequence[float] | None = None) -> float:
    """Share (weighted, if weights are given) of committee members that voted for the majority label.

    A member with no label (``None``: its answer failed to parse) still counts in the total but
    agrees with no one, so a failure lowers confidence instead of vanishing. nan for no members."""
    w = np.ones(len(member_labels)) if weights is None else np.asarray(weights, dtype=float)
    if w.shape != (len(member_labels),) or (w < 0).any():
        raise ValueError("weights must be non-negative, one per member")
    if w.sum() == 0:
        return float("nan")
    tally: Counter = Counter()
    for label, wi in zip(member_labels, w):
        if label is not None:
            tally[label] += wi
    return (max(tally.values()) if tally else 0.0) / float(w.sum())


def agreement(labels_per_repeat: Sequence[Hashable | None] | np.ndarray) -> float | np.ndarray:
    """Share of k repeated answers (self-consistency samples) that agree with their majority.

    The stand-in for log-probabilities where a backend gives none. A sequence is one item's k
    labels and gives a float (labels may be tuples, as multi-label and NER labels are); a 2-D
    numpy array (n items x k repeats) gives (n,). None counts as in :func:`vote_share`."""
    if isinstance(labels_per_repeat, np.ndarray) and labels_per_repeat.ndim == 2:
        return np.array([vote_share(list(r)) for r in labels_per_repeat], dtype=float)
    return vote_share(list(labels_per_repeat))


def min_token_confidence(token_conf: Sequence[float] | Sequence[Sequence[float]]) -> float | np.ndarray:
    """Confidence of a NER sentence: its least confident token, since one wrong tag spoils the
    sentence's spans. One sentence gives a float; a list of sentences gives (n,). A sentence with
    no tokens has nothing to get wrong: 1.0."""
    seq = list(token_conf)
    if seq and all(np.ndim(s) == 1 for s in seq):
        return np.array([min_token_confidence(s) for s in seq], dtype=float)
    c = np.asarray(seq, dtype=float)
    if c.ndim != 1 or not np.isfinite(c).all():
        raise ValueError("token confidences must be finite numbers, one per token")
    return float(c.min()) if c.size else 1.0


def label_set_confidence(label_proba: np.ndarray | Sequence[float], how: str = "top") -> float | np.ndarray:
    """Confidence of a multi-label answer (one yes/no probability per label): its least sure
    decision, as max(p, 1 - p) (``top``) or |2p - 1| (``margin``). One item (1-D) gives a float,
    an (n, n_labels) array gives (n,). No labels: nothing to get wrong, 1.0."""
    p = np.asarray(label_proba, dtype=float)
    if p.ndim not in (1, 2) or not np.isfinite(p).all() or (p < 0).any() or (p > 1).any():
        raise ValueError("label probabilities must be numbers in [0, 1], one per label (n, n_labels for many)")
    sure = np.maximum(p, 1 - p) if how == "top" else np.abs(2 * p - 1)
    if p.shape[-1] == 0:
        return 1.0 if p.ndim == 1 else np.ones(p.shape[0])
    low = sure.min(axis=-1)
    return float(low) if p.ndim == 1 else low
