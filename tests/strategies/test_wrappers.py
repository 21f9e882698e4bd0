"""Wrappers: class balance, pre-filtering, budget caps -- on pools small enough to check by hand."""
from __future__ import annotations

import numpy as np
import pytest

from labelwise.strategies import (BudgetStop, Budgeted, ClassBalanced, PoolState, PreFilter, balanced_quotas,
                                  make_strategy)


def rng(seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed)


@pytest.mark.parametrize("available, n, expected", [
    ([10, 10, 10], 9, [3, 3, 3]),
    ([10, 1, 10], 9, [4, 1, 4]),      # the small class passes its share on
    ([2, 0, 1], 10, [2, 0, 1]),       # never more than exists
    ([5, 5], 0, [0, 0]),
])
def test_balanced_quotas(available, n, expected):
    assert balanced_quotas(np.array(available), n, rng()).tolist() == expected


def test_balanced_quotas_remainder_goes_to_seeded_classes():
    quotas = {tuple(balanced_quotas(np.array([5, 5, 5]), 4, rng(s)).tolist()) for s in range(20)}
    assert all(sorted(q) == [1, 1, 2] for q in quotas) and len(quotas) > 1


def skewed_pool() -> PoolState:
    """8 items predicted class 0 (p0 from 0.99 down to 0.55: entropy rising with the index), and
    2 predicted class 1 (p1 0.8 and 0.7), both surer than a6 (p0 0.613) and a7 (p0 0.55)."""
    p0 = np.linspace(0.99, 0.55, 8)
    proba = np.vstack([np.c_[p0, 1 - p0], [[0.2, 0.8], [0.3, 0.7]]])
    return PoolState(ids=[f"a{i}" for i in range(8)] + ["b0", "b1"], labeled=np.zeros(10, dtype=bool), proba=proba)


def test_entropy_alone_ignores_the_rare_class():
    assert sorted(make_strategy("entropy").select(skewed_pool(), 2, rng())) == ["a6", "a7"]


def test_class_balanced_fills_each_class_from_the_inner_ranking():
    picked = ClassBalanced("entropy").select(skewed_pool(), 4, rng())
    assert picked == ["a7", "b1", "a6", "b0"]  # interleaved, best of each class first
    assert sorted(ClassBalanced("entropy").select(skewed_pool(), 6, rng())) == ["a4", "a5", "a6", "a7", "b0", "b1"]


def test_class_balanced_uses_given_predictions_over_proba():
    state = PoolState(ids=list("abcd"), labeled=np.zeros(4, dtype=bool), proba=np.full((4, 2), 0.5),
                      predicted=np.array(["x", "x", "x", "y"]))
    assert "d" in ClassBalanced("random").select(state, 2, rng())


def test_class_balanced_needs_predictions():
    state = PoolState(ids=list("ab"), labeled=[False, False], embeddings=np.eye(2))
    with pytest.raises(ValueError, match="needs predicted or proba"):
        ClassBalanced("diversity").select(state, 1, rng())


def test_prefilter_only_lets_the_inner_strategy_choose_among_the_kept():
    state = skewed_pool()
    top2_by_entropy = {"a7", "a6"}  # 0.2 of 10 items
    f = PreFilter("random", by="entropy", keep_fraction=0.2)
    assert all(f.select(state, 1, rng(s))[0] in top2_by_entropy for s in range(20))
    assert sorted(f.select(state, 2, rng())) == sorted(top2_by_entropy)


def test_prefilter_keeps_at_least_n():
    f = PreFilter("random", by="entropy", keep_fraction=0.1)
    assert len(f.select(skewed_pool(), 5, rng())) == 5


def test_prefilter_rejects_a_bad_fraction():
    with pytest.raises(ValueError, match="keep_fraction"):
        PreFilter("random", by="entropy", keep_fraction=0.0)


def test_budgeted_caps_by_what_is_left():
    state = PoolState(ids=[str(i) for i in range(10)], labeled=np.zeros(10, dtype=bool), spent=0.7)
    capped = Budgeted("random", BudgetStop(total=1.0, cost_per_item=0.1))
    assert len(capped.select(state, 10, rng())) == 3  # 0.3 left pays for exactly 3, despite float dust


def test_wrappers_nest():
    state = skewed_pool()
    nested = Budgeted(ClassBalanced(PreFilter("random", by="entropy", keep_fraction=0.5)), BudgetStop(3))
    picked = nested.select(state, 10, rng())
    assert len(picked) == 3 and len(set(picked)) == 3
    assert "budgeted(class_balanced(prefilter(random" in nested.name
