"""Which items to label next: pure scoring functions over arrays, strategies built on them,
wrappers, and stopping rules.

    state = PoolState(ids=ids, labeled=mask, proba=model.predict_proba(X))
    ids_next = make_strategy("entropy").select(state, n=50, rng=np.random.default_rng(seed))

The score functions live in :mod:`.scoring` (``scoring.entropy(proba)``, ...) rather than at
package level, where ``conditional_informativeness`` would shadow its strategy module.
Every score is "higher = more informative"; every ``select`` returns distinct unlabeled ids,
the same for the same seed.
"""
from __future__ import annotations

import inspect
from typing import Any

from ..errors import ConfigError
from . import committee, conditional_informativeness, diversity, random_sampling, scoring  # noqa: F401
from .base import STRATEGIES, BaseStrategy, PoolState, Strategy, rank_by_score, register_strategy
from .diversity import KCenter
from .random_sampling import RandomSampling
from .stopping import BudgetStop, StableStop, prediction_change, stable_stop_round
from .token_uncertainty import SequenceLeastConfidence
from .uncertainty import ScoreStrategy
from .wrappers import Budgeted, ClassBalanced, PreFilter, balanced_quotas


def make_strategy(name: str, **params: Any) -> Strategy:
    """Build the strategy registered as ``name``; an unknown name or parameter is a ConfigError."""
    factory = STRATEGIES.get_factory(name)
    try:
        inspect.signature(factory).bind(**params)
    except TypeError as exc:
        raise ConfigError(f"strategy '{name}' does not accept parameters {sorted(params)}: {exc}") from exc
    return factory(**params)


__all__ = [
    "PoolState", "Strategy", "BaseStrategy", "STRATEGIES", "register_strategy", "make_strategy",
    "ScoreStrategy", "RandomSampling", "KCenter", "SequenceLeastConfidence",
    "ClassBalanced", "PreFilter", "Budgeted", "balanced_quotas",
    "BudgetStop", "StableStop", "prediction_change", "stable_stop_round", "rank_by_score",
    "scoring",  # the pure score functions: scoring.entropy(proba), scoring.k_center_greedy(...), ...
]
