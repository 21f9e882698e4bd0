"""The pool a strategy sees, the Strategy protocol, and the registry of strategies by name.

A strategy reads only a :class:`PoolState` -- plain arrays the loop fills from the small
model -- so strategies stay pure and are tested without models, stores or LLMs.
"""
from __future__ import annotations

from dataclasses import dataclass
from numbers import Integral
from typing import Any, Protocol, Sequence, runtime_checkable

import numpy as np

from ..registry import Registry

_PER_ITEM = ("proba", "base_score", "finetuned_score", "embeddings", "sequence_logprob", "predicted")


@dataclass(frozen=True, eq=False)
class PoolState:
    """One round's view of the whole pool (labeled and unlabeled), one row per id.

    Only ``ids`` and ``labeled`` are required; a strategy names the arrays it needs and says
    which model output is missing when the loop did not fill them.
    """

    ids: np.ndarray                                # (n,) distinct item ids (str)
    labeled: np.ndarray                            # (n,) bool: already labeled
    proba: np.ndarray | None = None                # (n, k) small-model class probabilities
    base_score: np.ndarray | None = None           # (n,) or (n, k): before fine-tuning
    finetuned_score: np.ndarray | None = None      # same shape: after fine-tuning
    embeddings: np.ndarray | None = None           # (n, d)
    committee_votes: np.ndarray | None = None      # (n_models, n) int labels
    token_marginals: Sequence[np.ndarray] | None = None  # n arrays (n_tokens, n_tags)
    sequence_logprob: np.ndarray | None = None     # (n,) log P(best tag sequence)
    predicted: np.ndarray | None = None            # (n,) predicted labels
    spent: float = 0.0                             # budget units spent so far

    def __post_init__(self) -> None:
        ids = np.asarray(self.ids).astype(str)
        if ids.ndim != 1 or np.unique(ids).size != ids.size:
            raise ValueError("pool ids must be a 1-D sequence of distinct ids")
        labeled = np.asarray(self.labeled) if np.size(self.labeled) else np.zeros(0, dtype=bool)
        if labeled.dtype != bool or labeled.shape != ids.shape:
            raise ValueError(f"labeled must be a boolean mask with one entry per id ({ids.size}); "
                             f"got {labeled.dtype} {labeled.shape}")
        object.__setattr__(self, "ids", ids)
        object.__setattr__(self, "labeled", labeled)
        for name in _PER_ITEM:
            value = getattr(self, name)
            if value is not None:
                arr = np.asarray(value)
                if arr.ndim == 0 or arr.shape[0] != ids.size:
                    raise ValueError(f"{name} has shape {arr.shape} but the pool has {ids.size} ids")
                object.__setattr__(self, name, arr)
        if self.committee_votes is not None:
            votes = np.asarray(self.committee_votes)
            if votes.ndim != 2 or votes.shape[1] != ids.size:
                raise ValueError(f"committee_votes must be (n_models, {ids.size}); got {votes.shape}")
            object.__setattr__(self, "committee_votes", votes)
        if self.token_marginals is not None:
            if len(self.token_marginals) != ids.size:
                raise ValueError(f"token_marginals has {len(self.token_marginals)} sentences "
                                 f"but the pool has {ids.size} ids")
            object.__setattr__(self, "token_marginals", tuple(self.token_marginals))

    @property
    def n_unlabeled(self) -> int:
        return int((~self.labeled).sum())

    def candidates(self, mask: np.ndarray | None = None) -> np.ndarray:
        """Bool mask of items a strategy may pick: unlabeled, and inside ``mask`` if given."""
        return ~self.labeled if mask is None else (~self.labeled & np.asarray(mask, dtype=bool))

    def require(self, strategy: str, *names: str, hint: str = "") -> tuple[Any, ...]:
        """The named arrays, or a ValueError that says what the strategy needs and why."""
        if any(getattr(self, n) is None for n in names):
            needs = " and ".join(names) if len(names) < 3 else ", ".join(names[:-1]) + " and " + names[-1]
            raise ValueError(f"strategy '{strategy}' needs {needs}" + (f"; {hint}" if hint else ""))
        return tuple(getattr(self, n) for n in names)

    def predictions(self, strategy: str) -> np.ndarray:
        """Predicted labels: ``predicted`` if given, else the argmax of ``proba``."""
        if self.predicted is not None:
            return self.predicted
        if self.proba is not None:
            return np.asarray(self.proba).argmax(axis=1)
        raise ValueError(f"strategy '{strategy}' needs predicted or proba (the small model's predictions)")


@runtime_checkable
class Strategy(Protocol):
    """Picks the next items to label. ``select`` returns ids of unlabeled items only, distinct,
    at most ``n`` and never more than are unlabeled; the same seed gives the same ids.
    ``rank`` is the same choice as pool positions, limited to ``candidates`` -- what wrappers use."""

    name: str

    def select(self, state: PoolState, n: int, rng: np.random.Generator) -> list[str]: ...

    def rank(self, state: PoolState, n: int, rng: np.random.Generator,
             candidates: np.ndarray | None = None) -> np.ndarray: ...


class BaseStrategy:
    """Implements ``select`` on top of ``rank`` so each strategy writes its choice once.

    ``needs`` names the ``PoolState`` arrays the strategy reads: the loop computes exactly
    those (a base model's scores, embeddings, committee votes cost time)."""

    name: str = "base"
    needs: tuple[str, ...] = ()

    def select(self, state: PoolState, n: int, rng: np.random.Generator) -> list[str]:
        if isinstance(n, bool) or not isinstance(n, Integral) or n < 0:
            raise ValueError(f"n must be a non-negative integer; got {n!r}")
        return state.ids[self.rank(state, int(n), rng)].tolist()

    def rank(self, state: PoolState, n: int, rng: np.random.Generator,
             candidates: np.ndarray | None = None) -> np.ndarray:
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"<strategy {self.name}>"


def rank_by_score(scores: np.ndarray, n: int, rng: np.random.Generator,
                  candidates: np.ndarray | None = None) -> np.ndarray:
    """Indices of the ``n`` highest-scoring candidates, best first; ties broken by ``rng`` so a
    seed fixes the order and equal scores never favour low indices."""
    s = np.asarray(scores, dtype=float)
    idx = np.arange(s.size) if candidates is None else np.flatnonzero(candidates)
    if s.ndim != 1 or not np.isfinite(s[idx]).all():
        raise ValueError(f"scores must be a finite 1-D array; got shape {s.shape}")
    order = np.lexsort((rng.random(idx.size), -s[idx]))
    return idx[order[:max(n, 0)]]


# Strategy factories (a class or a partial) by name; see ``make_strategy``.
STRATEGIES = Registry("strategy")
register_strategy = STRATEGIES.register
