"""Stopping rules fire exactly when they should."""
from __future__ import annotations

import numpy as np
import pytest

from labelwise.strategies import BudgetStop, StableStop, prediction_change, stable_stop_round


@pytest.mark.parametrize("total, cost, spent, affordable", [
    (10.0, 2.5, 5.0, 2), (10.0, 2.5, 0.0, 4), (1.0, 0.1, 0.7, 3), (10.0, 1.0, 12.0, 0), (10.0, 3.0, 2.0, 2),
])
def test_budget_stop_counts_affordable_items(total, cost, spent, affordable):
    stop = BudgetStop(total, cost)
    assert stop.affordable(spent) == affordable
    assert stop.should_stop(spent) is (affordable == 0)


def test_budget_stop_rejects_nonsense():
    with pytest.raises(ValueError):
        BudgetStop(10.0, cost_per_item=0.0)


def test_prediction_change_by_hand():
    assert prediction_change(np.array([0, 1, 2, 3]), np.array([0, 1, 2, 0])) == 0.25
    assert prediction_change(np.array(["a", "b"]), np.array(["a", "b"])) == 0.0
    multilabel_prev = np.array([[1, 0], [0, 1], [1, 1]])
    multilabel_cur = np.array([[1, 0], [1, 1], [1, 1]])
    assert prediction_change(multilabel_prev, multilabel_cur) == pytest.approx(1 / 3)
    with pytest.raises(ValueError, match="same items"):
        prediction_change(np.array([0, 1]), np.array([0, 1, 2]))


def rounds(changed_counts: list[int], n: int = 20) -> list[np.ndarray]:
    """Predictions over ``n`` items where round r flips the first changed_counts[r-1] items."""
    preds = [np.zeros(n, dtype=int)]
    for k in changed_counts:
        nxt = preds[-1].copy()
        nxt[:k] = 1 - nxt[:k]
        preds.append(nxt)
    return preds


def test_stable_stop_fires_exactly_at_the_expected_round():
    # change shares by round: 1: 0.5, 2: 0.25, 3: 0.05, 4: 0.0, 5: 0.05 ; threshold 0.1, window 2
    preds = rounds([10, 5, 1, 0, 1])
    rule = StableStop(window=2, threshold=0.1)
    fired = [rule.update(p) for p in preds]
    assert fired == [False, False, False, False, True, True]
    assert rule.changes == pytest.approx([0.5, 0.25, 0.05, 0.0, 0.05])
    assert stable_stop_round(preds, window=2, threshold=0.1) == 4
    assert stable_stop_round(preds, window=1, threshold=0.1) == 3


def test_stable_stop_needs_strictly_below_and_resets_on_a_jump():
    preds = rounds([0, 10, 0, 0])  # 0.0, 0.5, 0.0, 0.0
    assert stable_stop_round(preds, window=2, threshold=0.1) == 4
    assert stable_stop_round(rounds([2, 2, 2]), window=1, threshold=0.1) is None  # 0.1 is not below 0.1
    assert stable_stop_round(rounds([5, 5]), window=3, threshold=0.5) is None  # never enough rounds


def test_stable_stop_rejects_bad_parameters():
    with pytest.raises(ValueError):
        StableStop(window=0)
    with pytest.raises(ValueError):
        StableStop(threshold=1.5)
