"""Random sampling: the baseline every other strategy must beat, and a safe cold start."""
from __future__ import annotations

import numpy as np

from .base import BaseStrategy, PoolState, register_strategy


@register_strategy("random")
class RandomSampling(BaseStrategy):
    """Uniformly random unlabeled items; needs no model output at all."""

    name = "random"

    def rank(self, state: PoolState, n: int, rng: np.random.Generator,
             candidates: np.ndarray | None = None) -> np.ndarray:
        idx = np.flatnonzero(state.candidates(candidates))
        return rng.permutation(idx)[:max(n, 0)]
