"""Uncertainty sampling: label the items the small model is least sure about.

One :class:`ScoreStrategy` ranks by any score function over state arrays; least-confidence,
margin and entropy are three registrations of it, differing only in the function.
"""
from __future__ import annotations

from functools import partial
from typing import Callable

import numpy as np

from .base import BaseStrategy, PoolState, rank_by_score, register_strategy
from .scoring import entropy, least_confidence, margin


class ScoreStrategy(BaseStrategy):
    """Rank unlabeled items by ``score(*arrays)``, highest first, ties broken by the rng.

    ``fields`` names the PoolState arrays passed to ``score`` in order; ``hint`` tells the
    user what to change when one is missing.
    """

    def __init__(self, name: str, score: Callable[..., np.ndarray], fields: tuple[str, ...],
                 hint: str = "") -> None:
        self.name, self.score, self.fields, self.hint = name, score, tuple(fields), hint
        self.needs = self.fields

    def scores(self, state: PoolState) -> np.ndarray:
        """One score per pool item (labeled ones included; they are never picked)."""
        return self.score(*state.require(self.name, *self.fields, hint=self.hint))

    def rank(self, state: PoolState, n: int, rng: np.random.Generator,
             candidates: np.ndarray | None = None) -> np.ndarray:
        return rank_by_score(self.scores(state), n, rng, state.candidates(candidates))


_PROBA_HINT = "the small model must report class probabilities (predict_proba)"
register_strategy("least_confidence")(partial(ScoreStrategy, "least_confidence", least_confidence, ("proba",),
                                              _PROBA_HINT))
register_strategy("margin")(partial(ScoreStrategy, "margin", margin, ("proba",), _PROBA_HINT))
register_strategy("entropy")(partial(ScoreStrategy, "entropy", entropy, ("proba",), _PROBA_HINT))
