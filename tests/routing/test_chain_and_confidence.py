"""The chain-ensemble baseline and the per-stage confidence measures."""
import numpy as np
import pytest

from labelwise.routing import (agreement, chain_ensemble_shares, margin, min_token_confidence,
                               top_probability, vote_share)


def test_chain_gives_each_stage_an_equal_share_by_its_own_ranking():
    rng = np.random.default_rng(0)
    a, b, c = rng.random(9), rng.random(9) * 100, np.full(9, np.nan)  # scales differ; stage 3 unread
    stage = chain_ensemble_shares([a, b, c])
    assert np.bincount(stage, minlength=3).tolist() == [3, 3, 3]
    first = np.flatnonzero(stage == 0)
    assert set(first) == set(np.argsort(-a)[:3])  # stage 0 keeps its 3 most confident
    rest = np.flatnonzero(stage != 0)
    assert set(np.flatnonzero(stage == 1)) == set(rest[np.argsort(-b[rest])[:3]])


def test_chain_with_explicit_shares_and_one_stage():
    conf = [np.array([0.9, 0.1, 0.8, 0.2]), np.array([np.nan, 0.5, np.nan, 0.9])]
    assert chain_ensemble_shares(conf, shares=[0.5]).tolist() == [0, 1, 0, 1]
    assert chain_ensemble_shares(conf, shares=[0.0]).tolist() == [1, 1, 1, 1]
    assert chain_ensemble_shares([np.array([0.3, 0.2])]).tolist() == [0, 0]
    with pytest.raises(ValueError):  # a forwarded item needs a confidence at the next stage
        chain_ensemble_shares([np.array([0.9, 0.1]), np.array([0.5, np.nan]), np.zeros(2)], shares=[0.5, 0.5])
    with pytest.raises(ValueError):
        chain_ensemble_shares(conf, shares=[0.5, 0.5])


def test_top_probability_and_margin():
    assert top_probability({"pos": 0.7, "neg": 0.2, "neu": 0.1}) == pytest.approx(0.7)
    assert margin({"pos": 0.7, "neg": 0.2, "neu": 0.1}) == pytest.approx(0.5)
    p = np.array([[0.5, 0.5], [0.1, 0.9], [1.0, 0.0]])
    np.testing.assert_allclose(top_probability(p), [0.5, 0.9, 1.0])
    np.testing.assert_allclose(margin(p), [0.0, 0.8, 1.0])
    assert margin([1.0]) == 1.0
    with pytest.raises(ValueError):
        top_probability([0.5, -0.1])


def test_agreement_and_vote_share():
    assert agreement(["a", "a", "b", "a"]) == 0.75
    assert agreement([("PER",), ("PER",), ()]) == pytest.approx(2 / 3)  # tuple labels are one item
    assert agreement(["a", None, None]) == pytest.approx(1 / 3)  # failed parses agree with no one
    np.testing.assert_allclose(agreement(np.array([["x", "x"], ["x", "y"]])), [1.0, 0.5])
    assert vote_share(["cat", "dog", "dog"]) == pytest.approx(2 / 3)
    assert vote_share(["cat", "dog", "dog"], weights=[3, 1, 1]) == pytest.approx(0.6)
    assert np.isnan(vote_share([]))


def test_min_token_confidence():
    assert min_token_confidence([0.99, 0.6, 0.95]) == 0.6
    np.testing.assert_allclose(min_token_confidence([[0.9, 0.8], [0.7], []]), [0.8, 0.7, 1.0])
    assert min_token_confidence([]) == 1.0


def test_label_set_confidence_is_the_least_sure_yes_no_decision():
    from labelwise.routing.confidence import label_set_confidence
    assert label_set_confidence([0.9, 0.2, 0.7]) == pytest.approx(0.7)             # max(p, 1 - p), least
    assert label_set_confidence([0.9, 0.2, 0.7], "margin") == pytest.approx(0.4)   # |2p - 1|, least
    np.testing.assert_allclose(label_set_confidence(np.array([[0.99, 0.01], [0.5, 1.0]])), [0.99, 0.5])
    assert label_set_confidence([]) == 1.0
    with pytest.raises(ValueError, match=r"in \[0, 1\]"):
        label_set_confidence([1.2, 0.5])
