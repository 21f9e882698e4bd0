"""Which items a stage may label: a confidence threshold calibrated on gold, with a guarantee.

``calibrate_threshold`` is Learn-then-Test with fixed-sequence testing (Angelopoulos, Bates et
al., 2021): each candidate threshold t is a hypothesis "the error of items with confidence >= t
exceeds alpha", tested with an exact Clopper–Pearson bound at level delta. Testing from strict
to lenient and stopping at the first failure controls the chance of accepting *any* unsafe
threshold at delta, with no union-bound penalty for the number of candidates.
``chain_ensemble_shares`` is the baseline without any guarantee (LLM Chain Ensembles).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from .bounds import clopper_pearson_upper, exceeds


@dataclass(frozen=True)
class ThresholdResult:
    """A calibrated threshold (or None: nothing is safe to accept) and what was measured."""
    threshold: float | None
    accepted: int          # gold items accepted at the threshold
    coverage: float        # accepted / n
    accuracy: float | None  # empirical accuracy of the accepted gold items
    error_bound: float     # (1 - delta) upper bound on their error; 1.0 when nothing accepted
    target_accuracy: float
    delta: float
    n: int
    tested: int            # thresholds actually tested (skipped ones excluded)
    reason: str
    guarantee: str

    def accept(self, confidence: np.ndarray | Sequence[float]) -> np.ndarray:
        """Boolean mask of the items this stage labels; all False when no threshold is safe."""
        c = np.asarray(confidence, dtype=float)
        return np.zeros(c.shape, bool) if self.threshold is None else c >= self.threshold


def calibrate_threshold(confidence: np.ndarray | Sequence[float], correct: np.ndarray | Sequence[bool],
                        target_accuracy: float, delta: float, min_accepted: int = 30,
                        candidates: np.ndarray | Sequence[float] | None = None) -> ThresholdResult:
    """The most lenient confidence threshold whose accepted gold items pass, testing in sequence.

    Candidates (default: the distinct gold confidences) run from strict to lenient; the
    accepted set at t is every item with confidence >= t. The first threshold whose exact
    error bound exceeds 1 - target_accuracy stops the sequence, and the last one that passed
    is kept, so a more lenient threshold is never chosen past a failure even if it would pass
    alone (that is what keeps the error of the whole procedure at delta).

    Thresholds that accept fewer than ``min_accepted`` gold items are *skipped*, not a stop:
    they are the strictest ones, which come first, and whether one is skipped depends on counts
    alone, never on correctness, so skipping them only moves where the fixed sequence starts.
    Stopping there instead would make every stage with a few very confident items accept
    nothing; testing them would let a handful of lucky items decide. For the same reason, and
    by the same count-only argument, thresholds accepting too few items to pass even with zero
    errors (e.g. fewer than 59 at alpha 0.05, delta 0.05) are skipped, not failed."""
    c = np.asarray(confidence, dtype=float)
    y = np.asarray(correct)
    if c.ndim != 1 or y.shape != c.shape:
        raise ValueError(f"confidence and correct must be 1-D of equal length; got {c.shape} and {y.shape}")
    if not np.isfinite(c).all():
        raise ValueError("confidence must be finite; route items without a confidence to the next stage")
    if y.dtype != bool and not np.isin(y, (0, 1)).all():
        raise ValueError("correct must be booleans (or 0/1)")
    if not 0.0 < target_accuracy <= 1.0 or not 0.0 < delta < 1.0 or min_accepted < 1:
        raise ValueError(f"need 0 < target_accuracy <= 1, 0 < delta < 1, min_accepted >= 1; got "
                         f"{target_accuracy}, {delta}, {min_accepted}")
    alpha, n = 1.0 - target_accuracy, c.size
    order = np.argsort(-c, kind="stable")
    cum_err = np.concatenate(([0], np.cumsum(~y[order].astype(bool))))
    c_asc = np.sort(c)
    grid = np.unique(c if candidates is None else np.asarray(candidates, float))[::-1]
    best = failed = None
    tested = 0
    # fewest accepted items that could pass at all (with no error): below it a test only fails
    passable = min_accepted
    while passable <= n and clopper_pearson_upper(0, passable, delta) > alpha:
        passable += 1
    for t in grid:
        m = int(n - np.searchsorted(c_asc, t, side="left"))
        if m < passable:
            continue
        e = int(cum_err[m])
        tested += 1
        if exceeds(e, m, delta, alpha):
            failed = (float(t), m, e)
            break
        best = (float(t), m, e)
    guarantee = (f"accepted items have error <= {alpha:.4g} with probability >= {1 - delta:.4g} over the "
                 f"draw of the gold set, if gold and pool are exchangeable")
    common = dict(target_accuracy=target_accuracy, delta=delta, n=n, tested=tested, guarantee=guarantee)
    fail_txt = "" if failed is None else (
        f"threshold {failed[0]:.4g} accepts {failed[1]} gold items with {failed[2]} errors; its error bound "
        f"{clopper_pearson_upper(failed[2], failed[1], delta):.4f} exceeds {alpha:.4g}")
    if best is None:
        reason = fail_txt and f"no safe threshold: the strictest testable {fail_txt}"
        reason = reason or (f"no threshold accepts at least {passable} of the {n} gold items (fewer cannot "
                            f"show error <= {alpha:.4g} at delta {delta:.4g} even with no error); label more gold"
                            + (" or lower min_accepted" if passable == min_accepted else ""))
        return ThresholdResult(None, 0, 0.0, None, 1.0, reason=reason, **common)
    t, m, e = best
    reason = (f"the next, more lenient {fail_txt}" if failed else "every tested threshold passed")
    return ThresholdResult(t, m, m / n, (m - e) / m, clopper_pearson_upper(e, m, delta),
                           reason=f"threshold {t:.4g} passed; {reason}", **common)


def chain_ensemble_shares(confidences: Sequence[np.ndarray | Sequence[float]],
                          shares: Sequence[float] | None = None) -> np.ndarray:
    """Stage index (0 = first) that labels each item under the LLM Chain Ensembles rule.

    Stage j keeps the most confident ``shares[j]`` of the items still remaining (default
    1 / (stages left), so every stage labels about n / K items) and forwards the rest; the
    last stage takes what is left. Keeping the top share by rank is keeping the top quantile
    of rank-normalised confidence, which is what makes stages with differently scaled
    confidences comparable. No accuracy is promised: this is the baseline the calibrated
    router is measured against. Entries of ``confidences[j]`` for items that never reach
    stage j are not read, so they may be nan (that stage was never asked)."""
    if not confidences:
        raise ValueError("need at least one stage")
    cs = [np.asarray(c, dtype=float) for c in confidences]
    n, k = cs[0].shape[0], len(cs)
    if any(c.shape != (n,) for c in cs):
        raise ValueError(f"every stage's confidences must be 1-D of length {n}")
    if shares is not None and (len(shares) != k - 1 or not all(0.0 <= s <= 1.0 for s in shares)):
        raise ValueError(f"shares must be {k - 1} numbers in [0, 1] (the last stage takes the rest)")
    stage = np.full(n, k - 1, dtype=int)
    remaining = np.arange(n)
    for j in range(k - 1):
        c = cs[j][remaining]
        if not np.isfinite(c).all():
            raise ValueError(f"stage {j} has no finite confidence for some item it was forwarded")
        share = shares[j] if shares is not None else 1.0 / (k - j)
        kept = keep_top_share(c, share)
        stage[remaining[kept]] = j
        remaining = remaining[~kept]
    return stage


def keep_top_share(confidence: np.ndarray | Sequence[float], share: float) -> np.ndarray:
    """Mask of the ``share`` most confident items (rounded to the nearest count; ties by order)."""
    c = np.asarray(confidence, dtype=float)
    keep = int(np.floor(share * c.size + 0.5))
    mask = np.zeros(c.size, bool)
    mask[np.argsort(-c, kind="stable")[:keep]] = True
    return mask


def risk_coverage(confidence: np.ndarray | Sequence[float], correct: np.ndarray | Sequence[bool],
                  max_points: int | None = None) -> np.ndarray:
    """(threshold, coverage, risk) rows, strict to lenient, one per distinct confidence: the share
    of items with confidence >= threshold and the error among them. ``max_points`` thins the rows
    evenly (always keeping the most lenient), for plots and reports."""
    c = np.asarray(confidence, dtype=float)
    y = np.asarray(correct).astype(bool)
    if c.ndim != 1 or y.shape != c.shape:
        raise ValueError(f"confidence and correct must be 1-D of equal length; got {c.shape} and {y.shape}")
    if c.size == 0:
        return np.zeros((0, 3))
    order = np.argsort(-c, kind="stable")
    cs, errs = c[order], np.cumsum(~y[order])
    last = np.r_[np.nonzero(cs[1:] != cs[:-1])[0], cs.size - 1]  # last index of each distinct confidence
    m = last + 1
    rows = np.column_stack([cs[last], m / c.size, errs[last] / m])
    if max_points is not None and len(rows) > max_points:
        keep = np.unique(np.r_[np.linspace(0, len(rows) - 1, max_points).round().astype(int), len(rows) - 1])
        rows = rows[keep]
    return rows
