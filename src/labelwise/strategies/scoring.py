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


_ROWS = 1 << 15  # rows per chunk in the passes below: temporaries stay a few MB at any pool size


def _first_bad_row(p: np.ndarray) -> int | None:
    """The first row of ``p`` that is not finite non-negative probabilities summing to 1, in
    chunks of rows; None when every row is."""
    for start in range(0, p.shape[0], _ROWS):
        c = p[start:start + _ROWS]
        sums = c.sum(axis=1)
        bad = np.flatnonzero(~np.isfinite(sums) | (np.abs(sums - 1.0) > 1e-3) | (c < 0).any(axis=1))
        if bad.size:
            return start + int(bad[0])
    return None


def _proba(proba: ArrayLike, name: str = "proba") -> np.ndarray:
    """Validate (n_items, n_classes) probabilities: a wrong input fails loudly, never scores."""
    p = np.asarray(proba, dtype=float)
    if p.ndim != 2 or p.shape[1] < 1:
        raise ValueError(f"{name} must be a 2-D array (n_items, n_classes); got shape {p.shape}")
    row = _first_bad_row(p)
    if row is not None:
        raise ValueError(f"each row of {name} must be finite non-negative probabilities summing to 1; "
                         f"row {row} is {p[row].tolist()}")
    return p


def _entropy_rows(p: np.ndarray) -> np.ndarray:
    """Row-wise Shannon entropy with 0 * log 0 = 0, in chunks of rows (one log per entry, no
    full-size temporaries: 10^8 entries in under a second)."""
    p = np.asarray(p, dtype=float)
    if p.ndim == 1:
        return _entropy_rows(p[None, :])[0]
    out = np.empty(p.shape[0])
    logs = np.empty((min(_ROWS, p.shape[0]), p.shape[1]))
    for start in range(0, p.shape[0], _ROWS):
        c = p[start:start + _ROWS]
        lg = logs[:c.shape[0]]
        lg.fill(0.0)
        np.log(c, out=lg, where=c > 0)
        out[start:start + _ROWS] = -np.einsum("ij,ij->i", c, lg)
    return out


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
    ``candidates`` (bool mask) limits the picks; labeled items act as centers, never as picks.

    Exact, and sized for a million 384-d rows: float32 embeddings stay float32 (float64 would
    double 1.5 GB), nothing n x d is copied when most rows are pickable, and the distances to
    the labeled centers are taken in blocks of rows x centers that stay near 64 MB."""
    x = np.asarray(embeddings)
    if not np.issubdtype(x.dtype, np.floating):
        x = x.astype(float)
    lab = np.asarray(labeled_mask, dtype=bool)
    if x.ndim != 2 or lab.shape != (x.shape[0],) or not _all_finite(x):
        raise ValueError(f"embeddings must be finite (n, d) with one labeled flag per row; "
                         f"got {x.shape} and {lab.shape}")
    pick = np.flatnonzero(~lab if candidates is None else (np.asarray(candidates, dtype=bool) & ~lab))
    sq = np.einsum("ij,ij->i", x, x)
    # distances are only ever needed from pickable rows: a copy of them when they are few, else all
    # rows are multiplied and the pickable ones read out (no n x d copy)
    few = pick.size < x.shape[0] // 2
    xp = x[pick] if few else x
    sqp = sq[pick]
    score = np.full(pick.size, np.inf)
    centers = np.flatnonzero(lab)
    rows = max(1, (1 << 24) // max(1, min(centers.size, 1024)))  # ~16M distances (64 MB float32) per block
    for start in range(0, centers.size, 1024):
        c = centers[start:start + 1024]
        xc, sqc = x[c].T.copy(), sq[c]
        for r0 in range(0, pick.size, rows):
            part = pick[r0:r0 + rows]
            d = x[part] @ xc
            d *= -2.0
            d += sqc  # |a-c|^2 = |a|^2 + |c|^2 - 2a.c; |a|^2 is the same along a row, added after min
            seg = score[r0:r0 + rows]
            np.minimum(seg, np.maximum(sqp[r0:r0 + rows] + d.min(axis=1), 0.0), out=seg)
    priority = rng.permutation(pick.size)
    picks: list[int] = []
    for _ in range(min(max(n, 0), pick.size)):
        tied = np.flatnonzero(score == score.max())
        j = int(tied[np.argmax(priority[tied])])
        picks.append(int(pick[j]))
        score[j] = -np.inf
        dots = xp @ x[pick[j]]
        if not few:
            dots = dots[pick]
        np.minimum(score, np.maximum(sqp + sqp[j] - 2.0 * dots, 0.0), out=score)
    return np.asarray(picks, dtype=np.intp)


def _all_finite(x: np.ndarray, rows: int = 1 << 16) -> bool:
    """``np.isfinite(x).all()`` without an n x d temporary."""
    return all(np.isfinite(x[i:i + rows]).all() for i in range(0, x.shape[0], rows))


def token_entropies(marginals_list: Sequence[ArrayLike]) -> list[np.ndarray]:
    """Per-token tag entropy for each sentence (token marginals (n_tokens, n_tags) each)."""
    flat, starts, sizes = _stacked(marginals_list)
    return np.split(_entropy_rows(flat), starts[1:]) if len(sizes) else []


def _per_sentence(values: np.ndarray, starts: np.ndarray, sizes: np.ndarray, ufunc: np.ufunc) -> np.ndarray:
    """``ufunc.reduceat`` of per-token ``values`` over each sentence; 0 for empty sentences."""
    out = np.zeros(sizes.size)
    full = sizes > 0
    if full.any():
        out[full] = ufunc.reduceat(values, starts[full])
    return out


def mean_token_entropy(marginals_list: Sequence[ArrayLike]) -> np.ndarray:
    """Mean tag entropy per sentence: overall uncertainty, not biased towards long sentences."""
    flat, starts, sizes = _stacked(marginals_list)
    return _per_sentence(_entropy_rows(flat), starts, sizes, np.add) / np.maximum(sizes, 1)


def max_token_entropy(marginals_list: Sequence[ArrayLike]) -> np.ndarray:
    """Largest tag entropy per sentence: one very unsure token makes a sentence worth labeling."""
    flat, starts, sizes = _stacked(marginals_list)
    return _per_sentence(_entropy_rows(flat), starts, sizes, np.maximum)


def best_sequence_logprob(marginals_list: Sequence[ArrayLike]) -> np.ndarray:
    """Log-probability of the per-token best tags: exact for per-token softmax taggers, an
    approximation of the Viterbi path for a CRF (which can report its own instead)."""
    flat, starts, sizes = _stacked(marginals_list)
    return _per_sentence(np.log(flat.max(axis=1)) if flat.size else np.zeros(0), starts, sizes, np.add)


def sequence_least_confidence(best_logprob: ArrayLike) -> np.ndarray:
    """``1 - P(best tag sequence)`` from its log-probability (Culotta & McCallum, 2005)."""
    lp = np.asarray(best_logprob, dtype=float)
    if lp.ndim != 1 or np.isnan(lp).any() or (lp > 1e-9).any():
        raise ValueError("best-sequence log-probabilities must be a 1-D array of values <= 0")
    return 1.0 - np.exp(np.minimum(lp, 0.0))


def _stacked(marginals_list: Sequence[ArrayLike]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every sentence's token marginals stacked into one validated (total tokens, n_tags) array,
    with each sentence's first row and its token count: the scores above are then a few
    vectorised passes instead of one Python step per sentence (a million sentences in seconds).
    A bad row is reported by its sentence, as ``token_marginals[i]``."""
    arrays = [np.asarray(m, dtype=float) for m in marginals_list]
    sizes = np.array([a.shape[0] if a.size else 0 for a in arrays], dtype=np.intp)
    starts = np.concatenate(([0], np.cumsum(sizes)[:-1])).astype(np.intp) if sizes.size else sizes
    full = [a for a in arrays if a.size]
    width = full[0].shape[1] if full and full[0].ndim == 2 else None
    bad = next((i for i, a in enumerate(arrays) if a.size and (a.ndim != 2 or a.shape[1] != width)), None)
    if bad is not None:
        raise ValueError(f"token_marginals[{bad}] must be (n_tokens, n_tags) like the other sentences; "
                         f"got shape {arrays[bad].shape}")
    flat = np.concatenate(full) if full else np.zeros((0, 1))
    row = _first_bad_row(flat)
    if row is not None:
        i = int(np.searchsorted(starts, row, side="right") - 1)  # empty sentences share the next one's start
        raise ValueError(f"each row of token_marginals[{i}] must be finite non-negative probabilities "
                         f"summing to 1; row {row - starts[i]} is {flat[row].tolist()}")
    return flat, starts, sizes
