"""Wrappers that change *where* an inner strategy may pick, never *how* it ranks.

Each wrapper is itself a Strategy, so they nest: ``Budgeted(ClassBalanced(PreFilter(
make_strategy("diversity"), by=make_strategy("entropy"), keep_fraction=0.2)), BudgetStop(50))``.
"""
from __future__ import annotations

import math

import numpy as np

from .base import BaseStrategy, PoolState, Strategy
from .stopping import BudgetStop


def _resolve(strategy: Strategy | str) -> Strategy:
    if isinstance(strategy, str):
        from . import make_strategy
        return make_strategy(strategy)
    return strategy


def balanced_quotas(available: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """Split ``n`` picks as evenly as possible over classes with ``available`` items each;
    a class that runs out passes its share on, and the remainder goes to classes drawn by rng."""
    cap = np.asarray(available, dtype=int)
    quota = np.zeros_like(cap)
    left = min(n, int(cap.sum()))
    while left > 0:
        open_ = np.flatnonzero(quota < cap)
        share, extra = divmod(left, open_.size)
        add = np.full(open_.size, share)
        add[rng.permutation(open_.size)[:extra]] += 1
        add = np.minimum(add, cap[open_] - quota[open_])
        quota[open_] += add
        left -= int(add.sum())
    return quota


class ClassBalanced(BaseStrategy):
    """Spread the batch evenly over predicted classes, filling each class from the inner
    strategy's ranking within it -- so rare classes are not starved by a skewed pool."""

    def __init__(self, inner: Strategy | str) -> None:
        self.inner = _resolve(inner)
        self.name = f"class_balanced({self.inner.name})"
        self.needs = (*getattr(self.inner, "needs", ()), "predicted")

    def rank(self, state: PoolState, n: int, rng: np.random.Generator,
             candidates: np.ndarray | None = None) -> np.ndarray:
        cand = state.candidates(candidates)
        preds = np.asarray(state.predictions(self.name))
        classes, counts = np.unique(preds[cand], return_counts=True)
        quotas = balanced_quotas(counts, n, rng)
        per_class = [self.inner.rank(state, int(q), rng, candidates=cand & (preds == c))
                     for c, q in zip(classes, quotas) if q > 0]
        # interleave so a truncated batch is still balanced: best of each class first
        depth = max((r.size for r in per_class), default=0)
        picks = [r[i] for i in range(depth) for r in per_class if i < r.size]
        return np.asarray(picks, dtype=np.intp)


class PreFilter(BaseStrategy):
    """Let ``inner`` choose only among the top ``keep_fraction`` of candidates by ``by`` (e.g.
    diversity among the most uncertain fifth) -- cheap where ``inner`` is costly, and it keeps
    a diverse batch from wasting picks on items the model is already sure about."""

    def __init__(self, inner: Strategy | str, by: Strategy | str, keep_fraction: float = 0.2) -> None:
        if not 0.0 < keep_fraction <= 1.0:
            raise ValueError(f"keep_fraction must be in (0, 1]; got {keep_fraction}")
        self.inner, self.by, self.keep_fraction = _resolve(inner), _resolve(by), keep_fraction
        self.needs = (*getattr(self.inner, "needs", ()), *getattr(self.by, "needs", ()))
        self.name = f"prefilter({self.inner.name}, by={self.by.name}, keep={keep_fraction:g})"

    def rank(self, state: PoolState, n: int, rng: np.random.Generator,
             candidates: np.ndarray | None = None) -> np.ndarray:
        cand = state.candidates(candidates)
        keep = max(n, math.ceil(self.keep_fraction * int(cand.sum())))  # never fewer than n
        kept = np.zeros_like(cand)
        kept[self.by.rank(state, keep, rng, candidates=cand)] = True
        return self.inner.rank(state, n, rng, candidates=kept)


class Budgeted(BaseStrategy):
    """Cap every batch at what the rest of the budget pays for (``state.spent`` so far)."""

    def __init__(self, inner: Strategy | str, budget: BudgetStop) -> None:
        self.inner, self.budget = _resolve(inner), budget
        self.name = f"budgeted({self.inner.name})"
        self.needs = getattr(self.inner, "needs", ())

    def rank(self, state: PoolState, n: int, rng: np.random.Generator,
             candidates: np.ndarray | None = None) -> np.ndarray:
        return self.inner.rank(state, min(n, self.budget.affordable(state.spent)), rng, candidates)
