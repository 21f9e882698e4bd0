"""Scoring functions over plain numpy arrays: the maths behind every strategy.

Convention: every score function returns one float per item and **higher = more informative**
(more worth labeling next), so one ranking routine (``base.rank_by_score``) serves them all.
Uncertainty scores are therefore uncertainties, not confidences: :func:`margin` returns
``1 - (p1 - p2)``, not the margin itself. Entropies are in nats (natural log).
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

ArrayLike = np.ndarray | Sequence


def _proba(proba: ArrayLike, name: str = "proba") -> np.ndarray:
    """Validate (n_items, n_classes) probabilities: a wrong input fails loudly, never scores."""
    p = np.asarray(proba, dtype=float)
    if p.ndim != 2 or p.shape[1] < 1:
        raise ValueError(f"{name} must be a 2-D array (n_items, n_classes); got shape {p.shape}")
    sums = p.sum(axis=1)
    bad = np.flatnonzero(~np.isfinite(sums) | (np.abs(sums - 1.0) > 1e-3) | (p < 0).any(axis=1))
    if bad.size:
        raise ValueError(f"each row of {name} must be finite non-negative probabilities summing to 1; "
                         f"row {bad[0]} is {p[bad[0]].tolist()}")
    return p


def _entropy_rows(p: np.ndarray) -> np.ndarray:
    """Row-wise Shannon entropy with 0 * log 0 = 0."""
    return -(p * np.log(np.where(p > 0, p, 1.0))).sum(axis=-1)


def least_confidence(proba: ArrayLike) -> np.ndarray:
    """``1 - max_k p_k``: how far the model is from being sure of its top class."""
    return 1.0 - _proba(proba).max(axis=1)


def margin(proba: ArrayLike) -> np.ndarray:
    """``1 - (p_top1 - p_top2)``: a small gap between the two best classes scores high."""
    p = _proba(proba)
    if p.shape[1] < 2:
        raise ValueError(f"margin needs at least 2 classes; proba has {p.shape[1]}")
    top2 = np.partition(p, -2, axis=1)[:, -2:]
    return 1.0 - (top2[:, 1] - top2[:, 0])


def entropy(proba: ArrayLike) -> np.ndarray:
    """Shannon entropy of each row: uncertainty spread over all classes, not just the top two."""
    return _entropy_rows(_proba(proba))


def conditional_informativeness(finetuned_score: ArrayLike, base_score: ArrayLike) -> np.ndarray:
    """How far fine-tuning moved the model on each item: the items the target domain changes
    most are the ones whose labels teach most. 1-D scores (relevance, positive class): ``|f - b|``.
    Probability rows (n, k): total-variation distance ``0.5 * sum_k |f_k - b_k|`` -- chosen over
    "probability of the predicted class" as it needs no choice of whose prediction counts, sees
    mass moving among non-top classes, stays in [0, 1] and for two classes equals the 1-D form."""
    f, b = np.asarray(finetuned_score, dtype=float), np.asarray(base_score, dtype=float)
    if f.shape != b.shape:
        raise ValueError(f"finetuned_score {f.shape} and base_score {b.shape} must have the same shape")
    if f.ndim == 1 and np.isfinite(f).all() and np.isfinite(b).all():
        return np.abs(f - b)
    if f.ndim == 2:
        f, b = _proba(f, "finetuned_score"), _proba(b, "base_score")
        return 0.5 * np.abs(f - b).sum(axis=1)
    raise ValueError(f"scores must be finite 1-D (n,) or probability rows (n, k); got shape {f.shape}")


def vote_entropy(votes: ArrayLike, n_classes: int | None = None) -> np.ndarray:
    """Entropy of the committee's vote shares per item (0 when all models agree). ``n_classes``
    only validates -- unvoted classes add nothing -- and defaults to ``votes.max() + 1``."""
    v = np.asarray(votes)
    if v.ndim != 2 or v.shape[0] < 1 or (v.size and not np.issubdtype(v.dtype, np.integer)):
        raise ValueError(f"votes must be 2-D integer class indices (n_models, n_items); got {v.dtype} {v.shape}")
    k = n_classes if n_classes is not None else (int(v.max()) + 1 if v.size else 1)
    if v.size and (v.min() < 0 or v.max() >= k):
        raise ValueError(f"votes must lie in [0, {k}); got values in [{v.min()}, {v.max()}]")
    share = np.stack([(v == c).sum(axis=0) for c in range(k)], axis=1) / v.shape[0]
    return _entropy_rows(share)


def k_center_greedy(embeddings: ArrayLike, labeled_mask: ArrayLike, n: int, rng: np.random.Generator,
                    candidates: np.ndarray | None = None) -> np.ndarray:
    """Greedy k-center (Sener & Savarese, 2018): pick the candidate farthest from every labeled or
    picked item, again and again, so a batch covers the embedding space. Returns indices in pick
    order; with nothing labeled the first pick is random, and every tie is broken by ``rng``.
    ``candidates`` (bool mask) limits the picks; labeled items act as centers, never as picks."""
    x = np.asarray(embeddings, dtype=float)
    lab = np.asarray(labeled_mask, dtype=bool)
    if x.ndim != 2 or lab.shape != (x.shape[0],) or not np.isfinite(x).all():
        raise ValueError(f"embeddings must be finite (n, d) with one labeled flag per row; "
                         f"got {x.shape} and {lab.shape}")
    pick = np.flatnonzero(~lab if candidates is None else (np.asarray(candidates, dtype=bool) & ~lab))
    sq = (x * x).sum(axis=1)
    xp, sqp = x[pick], sq[pick]  # distances are only ever needed from pickable rows
    score = np.full(pick.size, np.inf)
    centers = np.flatnonzero(lab)
    for start in range(0, centers.size, 1024):  # blocks keep memory at n * 1024 floats
        c = centers[start:start + 1024]
        d = xp @ x[c].T
        d *= -2.0
        d += sq[c]  # |a-c|^2 = |a|^2 + |c|^2 - 2a.c; |a|^2 is the same along a row, added after min
        score = np.minimum(score, np.maximum(sqp + d.min(axis=1), 0.0))
    priority = rng.permutation(pick.size)
    picks: list[int] = []
    for _ in range(min(max(n, 0), pick.size)):
        tied = np.flatnonzero(score == score.max())
        j = int(tied[np.argmax(priority[tied])])
        picks.append(int(pick[j]))
        score[j] = -np.inf
        score = np.minimum(score, np.maximum(sqp + sqp[j] - 2.0 * (xp @ xp[j]), 0.0))
    return np.asarray(picks, dtype=np.intp)


def token_entropies(marginals_list: Sequence[ArrayLike]) -> list[np.ndarray]:
    """Per-token tag entropy for each sentence (token marginals (n_tokens, n_tags) each)."""
    return [_entropy_rows(m) for m in _marginals(marginals_list)]


def mean_token_entropy(marginals_list: Sequence[ArrayLike]) -> np.ndarray:
    """Mean tag entropy per sentence: overall uncertainty, not biased towards long sentences."""
    return np.array([e.mean() if e.size else 0.0 for e in token_entropies(marginals_list)])


def max_token_entropy(marginals_list: Sequence[ArrayLike]) -> np.ndarray:
    """Largest tag entropy per sentence: one very unsure token makes a sentence worth labeling."""
    return np.array([e.max() if e.size else 0.0 for e in token_entropies(marginals_list)])


def best_sequence_logprob(marginals_list: Sequence[ArrayLike]) -> np.ndarray:
    """Log-probability of the per-token best tags: exact for per-token softmax taggers, an
    approximation of the Viterbi path for a CRF (which can report its own instead)."""
    return np.array([np.log(m.max(axis=1)).sum() if m.size else 0.0 for m in _marginals(marginals_list)])


def sequence_least_confidence(best_logprob: ArrayLike) -> np.ndarray:
    """``1 - P(best tag sequence)`` from its log-probability (Culotta & McCallum, 2005)."""
    lp = np.asarray(best_logprob, dtype=float)
    if lp.ndim != 1 or np.isnan(lp).any() or (lp > 1e-9).any():
        raise ValueError("best-sequence log-probabilities must be a 1-D array of values <= 0")
    return 1.0 - np.exp(np.minimum(lp, 0.0))


def _marginals(marginals_list: Sequence[ArrayLike]) -> list[np.ndarray]:
    """Validated token marginals; an empty sentence becomes a (0, 1) array."""
    return [np.zeros((0, 1)) if np.size(m) == 0 else _proba(m, f"token_marginals[{i}]")
            for i, m in enumerate(marginals_list)]
