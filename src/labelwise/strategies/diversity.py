"""Diversity sampling: a batch that covers the embedding space instead of n near-duplicates of
the single most uncertain item (greedy k-center over embeddings)."""
from __future__ import annotations

import numpy as np

from .base import BaseStrategy, PoolState, register_strategy
from .scoring import k_center_greedy


@register_strategy("diversity")
class KCenter(BaseStrategy):
    """Greedy k-center on ``state.embeddings``; labeled items count as existing centers."""

    name = "diversity"
    needs = ("embeddings",)

    def rank(self, state: PoolState, n: int, rng: np.random.Generator,
             candidates: np.ndarray | None = None) -> np.ndarray:
        (emb,) = state.require(self.name, "embeddings", hint="the encoder must embed every pool item")
        return k_center_greedy(emb, state.labeled, n, rng, candidates=state.candidates(candidates))
