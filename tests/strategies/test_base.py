"""PoolState validation, the registry, and error messages that say what to fix."""
from __future__ import annotations

import numpy as np
import pytest

from labelwise.errors import ConfigError
from labelwise.strategies import STRATEGIES, PoolState, RandomSampling, make_strategy, register_strategy


def test_pool_state_normalises_inputs():
    state = PoolState(ids=[1, 2, 3], labeled=[False, True, False], proba=[[0.5, 0.5]] * 3)
    assert state.ids.tolist() == ["1", "2", "3"]
    assert isinstance(state.proba, np.ndarray) and state.n_unlabeled == 2
    assert state.candidates(np.array([True, True, False])).tolist() == [True, False, False]


@pytest.mark.parametrize("kwargs, message", [
    (dict(ids=["a", "a"], labeled=[False, False]), "distinct"),
    (dict(ids=["a", "b"], labeled=[0, 1]), "boolean mask"),
    (dict(ids=["a", "b"], labeled=[False]), "boolean mask"),
    (dict(ids=["a", "b"], labeled=[False, False], proba=[[0.5, 0.5]]), "proba has shape"),
    (dict(ids=["a", "b"], labeled=[False, False], committee_votes=[0, 1]), "committee_votes must be"),
    (dict(ids=["a", "b"], labeled=[False, False], token_marginals=[np.ones((1, 1))]), "token_marginals has 1"),
])
def test_pool_state_rejects_inconsistent_arrays(kwargs, message):
    with pytest.raises(ValueError, match=message):
        PoolState(**kwargs)


def test_empty_pool_is_fine():
    state = PoolState(ids=[], labeled=[])
    assert make_strategy("random").select(state, 3, np.random.default_rng(0)) == []


def test_ci_says_what_the_small_model_must_report():
    state = PoolState(ids=["a"], labeled=[False], finetuned_score=[0.3])
    with pytest.raises(ValueError, match=r"strategy 'ci' needs finetuned_score and base_score; "
                                         r"the small model must report its base score"):
        make_strategy("ci").select(state, 1, np.random.default_rng(0))


def test_sequence_least_confidence_prefers_the_taggers_own_logprob():
    state = PoolState(ids=["a", "b"], labeled=[False, False], sequence_logprob=[-0.1, -2.0],
                      token_marginals=[np.array([[0.5, 0.5]]), np.array([[1.0, 0.0]])])
    assert make_strategy("sequence_least_confidence").select(state, 1, np.random.default_rng(0)) == ["b"]
    no_logprob = PoolState(ids=state.ids, labeled=state.labeled, token_marginals=state.token_marginals)
    assert make_strategy("sequence_least_confidence").select(no_logprob, 1, np.random.default_rng(0)) == ["a"]


@pytest.mark.parametrize("name, field, values, best", [
    ("ci", None, None, "c"),
    ("committee", "committee_votes", [[0, 0, 1], [0, 1, 0], [0, 0, 2]], "c"),
    ("diversity", "embeddings", [[0.0, 0.0], [1.0, 0.0], [9.0, 0.0]], "c"),
    ("mean_token_entropy", "token_marginals", [np.array([[1.0, 0.0]]), np.array([[0.9, 0.1]]),
                                               np.array([[0.5, 0.5]])], "c"),
])
def test_each_strategy_picks_the_hand_computed_best(name, field, values, best):
    extra = ({"finetuned_score": [0.5, 0.6, 0.9], "base_score": [0.5, 0.4, 0.1]} if field is None
             else {field: values})
    state = PoolState(ids=["a", "b", "c"], labeled=[True, False, False], **extra)
    assert make_strategy(name).select(state, 1, np.random.default_rng(0)) == [best]


def test_make_strategy_rejects_unknown_names_and_parameters():
    with pytest.raises(ConfigError, match="unknown strategy 'entropyy'; choose one of .*entropy"):
        make_strategy("entropyy")
    with pytest.raises(ConfigError, match="does not accept parameters"):
        make_strategy("random", temperature=2)


def test_register_strategy_refuses_a_taken_name():
    with pytest.raises(ValueError, match="already registered"):
        register_strategy("random")(lambda: RandomSampling())


def test_a_new_strategy_registers_by_name():
    @register_strategy("first_unlabeled_for_test")
    class FirstUnlabeled(RandomSampling):
        name = "first_unlabeled_for_test"

        def rank(self, state, n, rng, candidates=None):
            return np.flatnonzero(state.candidates(candidates))[:n]

    try:
        state = PoolState(ids=list("abc"), labeled=[True, False, False])
        assert make_strategy("first_unlabeled_for_test").select(state, 1, np.random.default_rng(0)) == ["b"]
    finally:
        del STRATEGIES["first_unlabeled_for_test"]
