"""The contract every strategy keeps, checked for each registered one and for the wrappers."""
from __future__ import annotations

from typing import Callable

import numpy as np
import pytest

from labelwise.strategies import (STRATEGIES, BudgetStop, Budgeted, ClassBalanced, PoolState, PreFilter, Strategy,
                                  make_strategy)


def full_state(n: int = 30, n_labeled: int = 8, seed: int = 0, **overrides) -> PoolState:
    """A pool with every array any strategy may need, filled from a seeded rng."""
    rng = np.random.default_rng(seed)
    proba = rng.dirichlet(np.ones(3), size=n)
    labeled = np.zeros(n, dtype=bool)
    labeled[rng.choice(n, size=n_labeled, replace=False)] = True
    lengths = rng.integers(0, 7, size=n)
    lengths[0] = 0  # an empty sentence must not break token strategies
    fields = dict(
        ids=[f"item-{i:03d}" for i in range(n)], labeled=labeled, proba=proba,
        base_score=rng.random(n), finetuned_score=rng.random(n), embeddings=rng.normal(size=(n, 4)),
        committee_votes=rng.integers(0, 3, size=(5, n)),
        token_marginals=[rng.dirichlet(np.ones(5), size=k) for k in lengths],
        predicted=proba.argmax(axis=1),
    )
    fields.update(overrides)
    return PoolState(**fields)


FACTORIES: dict[str, Callable[[], Strategy]] = {name: (lambda name=name: make_strategy(name))
                                                for name in sorted(STRATEGIES)}
FACTORIES.update({
    "class_balanced(entropy)": lambda: ClassBalanced("entropy"),
    "class_balanced(diversity)": lambda: ClassBalanced(make_strategy("diversity")),
    "prefilter(diversity, by=entropy)": lambda: PreFilter("diversity", by="entropy", keep_fraction=0.5),
    "budgeted(margin)": lambda: Budgeted("margin", BudgetStop(total=1000.0)),
})


def rng(seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed)


def test_every_expected_strategy_is_registered():
    assert {"random", "least_confidence", "margin", "entropy", "ci", "diversity", "committee",
            "mean_token_entropy", "max_token_entropy", "sequence_least_confidence"} <= set(STRATEGIES)


@pytest.fixture(params=sorted(FACTORIES))
def strategy(request) -> Strategy:
    return FACTORIES[request.param]()


def test_is_a_strategy(strategy):
    assert isinstance(strategy, Strategy)
    assert isinstance(strategy.name, str) and strategy.name


@pytest.mark.parametrize("n", [0, 1, 5, 22])
def test_returns_n_distinct_unlabeled_ids(strategy, n):
    state = full_state()
    picked = strategy.select(state, n, rng())
    assert len(picked) == n
    assert len(set(picked)) == n
    assert all(isinstance(i, str) for i in picked)
    unlabeled = set(state.ids[~state.labeled])
    assert set(picked) <= unlabeled


def test_n_larger_than_pool_returns_all_unlabeled(strategy):
    state = full_state()
    picked = strategy.select(state, 1000, rng())
    assert sorted(picked) == sorted(state.ids[~state.labeled])


def test_never_selects_labeled_when_few_are_left(strategy):
    labeled = np.ones(30, dtype=bool)
    labeled[[3, 17]] = False
    state = full_state(labeled=labeled)
    assert sorted(strategy.select(state, 5, rng())) == ["item-003", "item-017"]


def test_nothing_unlabeled_gives_nothing(strategy):
    state = full_state(labeled=np.ones(30, dtype=bool))
    assert strategy.select(state, 5, rng()) == []


@pytest.mark.parametrize("seed", [0, 1, 7])
def test_deterministic_under_a_seed(strategy, seed):
    state = full_state(seed=3)
    assert strategy.select(state, 6, rng(seed)) == strategy.select(state, 6, rng(seed))


def test_respects_the_budget_when_wrapped(strategy):
    budget = BudgetStop(total=10.0, cost_per_item=2.5)
    wrapped = Budgeted(strategy, budget)
    assert len(wrapped.select(full_state(spent=5.0), 10, rng())) == 2
    assert wrapped.select(full_state(spent=9.0), 10, rng()) == []
    assert len(wrapped.select(full_state(spent=0.0), 3, rng())) == 3  # n still caps


@pytest.mark.parametrize("bad_n", [-1, 2.5, True])
def test_rejects_a_bad_n(strategy, bad_n):
    with pytest.raises(ValueError, match="non-negative integer"):
        strategy.select(full_state(), bad_n, rng())


@pytest.mark.parametrize("name", sorted(set(STRATEGIES) - {"random"}))
def test_missing_input_names_the_strategy(name):
    bare = PoolState(ids=["a", "b", "c"], labeled=[False, True, False])
    with pytest.raises(ValueError, match=f"strategy '{name}' needs"):
        make_strategy(name).select(bare, 1, rng())


def test_random_differs_across_seeds_and_needs_no_model():
    state = PoolState(ids=[str(i) for i in range(50)], labeled=np.zeros(50, dtype=bool))
    picks = {tuple(make_strategy("random").select(state, 5, rng(seed))) for seed in range(10)}
    assert len(picks) > 1


@pytest.mark.parametrize("name", ["least_confidence", "margin", "entropy"])
def test_ties_are_broken_by_the_rng(name):
    """All-equal scores: the seed decides, the same seed decides the same way."""
    state = PoolState(ids=[str(i) for i in range(40)], labeled=np.zeros(40, dtype=bool),
                      proba=np.full((40, 2), 0.5))
    strategy = make_strategy(name)
    assert strategy.select(state, 4, rng(5)) == strategy.select(state, 4, rng(5))
    assert len({tuple(strategy.select(state, 4, rng(seed))) for seed in range(10)}) > 1
