"""Score functions on hand-made arrays, against values computed by hand."""
from __future__ import annotations

import math

import numpy as np
import pytest

from labelwise.strategies import rank_by_score
from labelwise.strategies.scoring import (best_sequence_logprob, conditional_informativeness, entropy,
                                          k_center_greedy, least_confidence, margin, max_token_entropy,
                                          mean_token_entropy, sequence_least_confidence, token_entropies,
                                          vote_entropy)

LN2, LN3 = math.log(2), math.log(3)


def test_entropy_by_hand():
    assert entropy([[0.5, 0.5], [1.0, 0.0]]) == pytest.approx([LN2, 0.0])
    assert entropy([[0.25] * 4]) == pytest.approx([math.log(4)])
    assert entropy([[0.7, 0.2, 0.1]]) == pytest.approx([-(0.7 * math.log(0.7) + 0.2 * math.log(0.2)
                                                         + 0.1 * math.log(0.1))])


def test_least_confidence_by_hand():
    assert least_confidence([[0.9, 0.1], [0.6, 0.4]]) == pytest.approx([0.1, 0.4])
    assert least_confidence([[0.2, 0.5, 0.3]]) == pytest.approx([0.5])


def test_margin_is_one_minus_the_top_two_gap():
    assert margin([[0.5, 0.3, 0.2], [0.2, 0.5, 0.3], [1.0, 0.0, 0.0]]) == pytest.approx([0.8, 0.8, 0.0])


def test_uncertainty_scores_order_items_differently():
    """[0.5, 0.49, 0.01] has the closer race; [0.4, 0.3, 0.3] the lower top and more spread."""
    p = [[0.5, 0.49, 0.01], [0.4, 0.3, 0.3]]
    assert margin(p)[0] > margin(p)[1]                      # 0.99 > 0.90
    assert least_confidence(p)[1] > least_confidence(p)[0]  # 0.6 > 0.5
    assert entropy(p)[1] > entropy(p)[0]                    # 1.089 > 0.742


def test_margin_needs_two_classes():
    with pytest.raises(ValueError, match="at least 2 classes"):
        margin([[1.0]])


@pytest.mark.parametrize("bad", [[[0.5, 0.2]], [[1.5, -0.5]], [[np.nan, 1.0]], [0.5, 0.5]])
def test_bad_probabilities_fail_loudly(bad):
    with pytest.raises(ValueError):
        entropy(bad)


def test_conditional_informativeness_on_scores():
    ci = conditional_informativeness([0.9, 0.2, 0.5, 0.1], [0.1, 0.25, 0.5, 0.7])
    assert ci == pytest.approx([0.8, 0.05, 0.0, 0.6])
    assert list(np.argsort(-ci)) == [0, 3, 1, 2]


def test_conditional_informativeness_on_probability_rows_is_total_variation():
    fine = [[0.9, 0.1], [0.6, 0.4]]
    base = [[0.3, 0.7], [0.5, 0.5]]
    assert conditional_informativeness(fine, base) == pytest.approx([0.6, 0.1])  # = |Δ p_1| for 2 classes
    assert conditional_informativeness([[0.5, 0.3, 0.2]], [[0.5, 0.1, 0.4]]) == pytest.approx([0.2])


def test_conditional_informativeness_checks_shapes():
    with pytest.raises(ValueError, match="same shape"):
        conditional_informativeness([0.1, 0.2], [0.1])
    with pytest.raises(ValueError, match="finite"):
        conditional_informativeness([np.nan], [0.1])


def test_vote_entropy_by_hand():
    votes = np.array([[0, 0, 0, 0, 1],
                      [0, 0, 1, 1, 2],
                      [0, 1, 2, 1, 0],
                      [0, 1, 0, 0, 1]])
    expected = [0.0, LN2, -(0.25 * math.log(0.25) * 2 + 0.5 * math.log(0.5)), LN2,
                -(0.5 * math.log(0.5) + 0.25 * math.log(0.25) * 2)]
    assert vote_entropy(votes, n_classes=3) == pytest.approx(expected)
    assert vote_entropy([[0, 1, 2], [0, 2, 1], [0, 0, 0]])[1] == pytest.approx(LN3)


def test_vote_entropy_validates():
    with pytest.raises(ValueError, match=r"\[0, 2\)"):
        vote_entropy([[0, 2]], n_classes=2)
    with pytest.raises(ValueError, match="integer"):
        vote_entropy([[0.5, 1.0]])


def test_k_center_picks_the_farthest_point_first():
    # (0,0) labeled; distances to it: (1,0)=1, (5,0)=5, (0,3)=3. Pick (5,0); then (0,3) is 3 from
    # (0,0) and sqrt(34) from (5,0) -> 3; (1,0) is 1 -> pick (0,3), then (1,0).
    x = np.array([[0.0, 0.0], [1.0, 0.0], [5.0, 0.0], [0.0, 3.0]])
    picks = k_center_greedy(x, [True, False, False, False], 3, np.random.default_rng(0))
    assert picks.tolist() == [2, 3, 1]


def test_k_center_accounts_for_its_own_picks():
    # two tight clusters far from the labeled origin: the second pick must leave the first cluster
    # uncertainty-style "farthest from origin" would take both of (10, 0) and (10.1, 0)
    x = np.array([[0, 0], [10, 0], [10.1, 0], [0, 8], [0, 8.1]], dtype=float)
    picks = k_center_greedy(x, [True, False, False, False, False], 2, np.random.default_rng(0))
    assert picks.tolist() == [2, 4]


def test_k_center_cold_start_is_seeded_and_respects_candidates():
    x = np.random.default_rng(1).normal(size=(20, 3))
    none = np.zeros(20, dtype=bool)
    first = {int(k_center_greedy(x, none, 1, np.random.default_rng(s))[0]) for s in range(10)}
    assert len(first) > 1
    a = k_center_greedy(x, none, 5, np.random.default_rng(3))
    assert a.tolist() == k_center_greedy(x, none, 5, np.random.default_rng(3)).tolist()
    cand = np.zeros(20, dtype=bool)
    cand[[2, 4, 6]] = True
    assert sorted(k_center_greedy(x, none, 10, np.random.default_rng(0), candidates=cand).tolist()) == [2, 4, 6]


def test_k_center_with_duplicates_still_returns_distinct_items():
    x = np.zeros((6, 2))
    picks = k_center_greedy(x, [True] + [False] * 5, 5, np.random.default_rng(0))
    assert sorted(picks.tolist()) == [1, 2, 3, 4, 5]


def test_token_entropy_pooling_by_hand():
    sentences = [np.array([[0.5, 0.5], [1.0, 0.0]]), np.array([[0.9, 0.1]]), np.zeros((0, 2))]
    assert [e.tolist() for e in token_entropies(sentences)][0] == pytest.approx([LN2, 0.0])
    assert mean_token_entropy(sentences) == pytest.approx([LN2 / 2, entropy([[0.9, 0.1]])[0], 0.0])
    assert max_token_entropy(sentences) == pytest.approx([LN2, entropy([[0.9, 0.1]])[0], 0.0])


def test_sequence_least_confidence_by_hand():
    sentences = [np.array([[0.5, 0.5], [1.0, 0.0]]), np.array([[0.9, 0.1], [0.8, 0.2]]), []]
    assert best_sequence_logprob(sentences) == pytest.approx([math.log(0.5), math.log(0.72), 0.0])
    assert sequence_least_confidence(best_sequence_logprob(sentences)) == pytest.approx([0.5, 0.28, 0.0])
    assert sequence_least_confidence([math.log(0.25), -np.inf]) == pytest.approx([0.75, 1.0])
    with pytest.raises(ValueError):
        sequence_least_confidence([0.5])


def test_rank_by_score_orders_high_first_and_breaks_ties_by_rng():
    scores = np.array([0.1, 0.9, 0.5, 0.9, 0.0])
    top = rank_by_score(scores, 3, np.random.default_rng(0))
    assert set(top[:2].tolist()) == {1, 3} and top[2] == 2
    orders = {tuple(rank_by_score(scores, 2, np.random.default_rng(s)).tolist()) for s in range(20)}
    assert orders == {(1, 3), (3, 1)}
    cand = np.array([True, False, True, False, True])
    assert rank_by_score(scores, 5, np.random.default_rng(0), cand).tolist() == [2, 0, 4]
    with pytest.raises(ValueError, match="finite"):
        rank_by_score([np.nan, 1.0], 1, np.random.default_rng(0))


def _k_center_reference(x, labeled, n, rng, candidates=None):
    """The textbook greedy k-center, in float64, one full distance matrix: what the blocked,
    copy-free version must reproduce pick for pick."""
    x = np.asarray(x, dtype=float)
    lab = np.asarray(labeled, bool)
    pick = np.flatnonzero(~lab if candidates is None else (candidates & ~lab))
    d = ((x[pick][:, None, :] - x[None, :, :]) ** 2).sum(-1)
    score = d[:, lab].min(axis=1) if lab.any() else np.full(pick.size, np.inf)
    priority = rng.permutation(pick.size)
    out = []
    for _ in range(min(n, pick.size)):
        tied = np.flatnonzero(score == score.max())
        j = int(tied[np.argmax(priority[tied])])
        out.append(int(pick[j]))
        score[j] = -np.inf
        score = np.minimum(score, d[:, pick[j]])
    return out


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("share", [1.0, 0.3])  # most rows pickable (no copy) / a few (their copy)
def test_k_center_matches_the_textbook_greedy_on_random_points(dtype, share):
    rng = np.random.default_rng(7)
    x = rng.standard_normal((3000, 16)).astype(dtype)
    labeled = np.zeros(3000, bool)
    labeled[rng.choice(3000, 1500, replace=False)] = True  # more than one block of 1024 centers
    cand = rng.random(3000) < share
    got = k_center_greedy(x, labeled, 25, np.random.default_rng(3), candidates=cand).tolist()
    want = _k_center_reference(x, labeled, 25, np.random.default_rng(3), candidates=cand)
    if dtype is np.float64:
        assert got == want
    else:  # float32 distances: the same picks but for near-ties
        assert len(set(got) & set(want)) >= 23
    assert x.dtype == dtype  # the input was not converted in place


def test_token_scores_match_a_per_sentence_loop_and_name_a_bad_sentence():
    rng = np.random.default_rng(0)
    sentences = [rng.dirichlet(np.ones(5), size=int(k)) for k in rng.integers(0, 9, size=300)]
    ent = [-(m * np.log(m)).sum(axis=1) for m in sentences]
    assert mean_token_entropy(sentences) == pytest.approx([e.mean() if e.size else 0.0 for e in ent])
    assert max_token_entropy(sentences) == pytest.approx([e.max() if e.size else 0.0 for e in ent])
    assert best_sequence_logprob(sentences) == pytest.approx([np.log(m.max(1)).sum() for m in sentences])
    assert all(np.allclose(a, b) for a, b in zip(token_entropies(sentences), ent))
    bad = [s.copy() for s in sentences]
    k = next(i for i, s in enumerate(bad) if s.shape[0] >= 2 and i > 100)
    bad[k][1] = [0.5, 0.5, 0.5, 0.0, 0.0]
    with pytest.raises(ValueError, match=rf"token_marginals\[{k}\].*row 1 is"):
        mean_token_entropy(bad)
    with pytest.raises(ValueError, match=r"token_marginals\[1\] must be \(n_tokens, n_tags\)"):
        mean_token_entropy([np.full((2, 2), 0.5), np.full((1, 3), 1 / 3)])
