"""Stopping rules: when another round of labeling is not worth it.

``BudgetStop`` stops when the money (or calls, or tokens) cannot pay for one more item;
``StableStop`` stops when the small model's predictions have stopped changing (Bloodgood &
Vijay-Shanker, 2009: "stabilizing predictions"), which saves the rest of the budget.
"""
from __future__ import annotations

import math
from typing import Sequence

import numpy as np


class BudgetStop:
    """How many items the rest of the budget pays for, at an expected ``cost_per_item``."""

    def __init__(self, total: float, cost_per_item: float = 1.0) -> None:
        if not (total >= 0 and cost_per_item > 0):
            raise ValueError(f"budget needs total >= 0 and cost_per_item > 0; got {total}, {cost_per_item}")
        self.total, self.cost_per_item = float(total), float(cost_per_item)

    def affordable(self, spent: float) -> int:
        """Whole items the remaining budget pays for (never negative; tolerant of float dust)."""
        return max(0, math.floor((self.total - spent) / self.cost_per_item + 1e-9))

    def should_stop(self, spent: float) -> bool:
        return self.affordable(spent) == 0


def prediction_change(previous: np.ndarray, current: np.ndarray) -> float:
    """Share of items whose prediction differs between two rounds (a row of a multi-label
    prediction counts as changed if any of its labels changed)."""
    prev, cur = np.asarray(previous), np.asarray(current)
    if prev.shape != cur.shape:
        raise ValueError(f"predictions must cover the same items each round; got {prev.shape} then {cur.shape}")
    if prev.shape[0] == 0:
        return 0.0
    return float((prev != cur).reshape(prev.shape[0], -1).any(axis=1).mean())


class StableStop:
    """Stop once the share of changed predictions stays below ``threshold`` for ``window``
    consecutive rounds. Feed it the predictions on the same items every round (the whole pool
    or a fixed stop set); the first round only sets the reference."""

    def __init__(self, window: int = 3, threshold: float = 0.01) -> None:
        if window < 1 or not 0.0 <= threshold <= 1.0:
            raise ValueError(f"StableStop needs window >= 1 and 0 <= threshold <= 1; got {window}, {threshold}")
        self.window, self.threshold = window, threshold
        self.changes: list[float] = []
        self._previous: np.ndarray | None = None

    def update(self, predictions: np.ndarray) -> bool:
        """Record this round's predictions; True when the rule says stop."""
        current = np.array(predictions, copy=True)
        if self._previous is not None:
            self.changes.append(prediction_change(self._previous, current))
        self._previous = current
        return self.stopped

    def restore(self, changes: Sequence[float], predictions: np.ndarray) -> None:
        """Pick up where a stopped process left off: the changes seen so far and the last
        round's predictions."""
        self.changes = list(changes)
        self._previous = np.array(predictions, copy=True)

    @property
    def stopped(self) -> bool:
        recent = self.changes[-self.window:]
        return len(recent) == self.window and all(c < self.threshold for c in recent)


def stable_stop_round(predictions: Sequence[np.ndarray], window: int, threshold: float) -> int | None:
    """Index of the first round (0-based, into ``predictions``) at which StableStop fires, or None."""
    rule = StableStop(window, threshold)
    for i, p in enumerate(predictions):
        if rule.update(p):
            return i
    return None
