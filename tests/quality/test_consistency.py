"""Agreement maths against textbook values and hand-computed cases."""
import math
import random

import numpy as np
import pytest

from labelwise.quality.consistency import (all_equal_share, category_counts, cohen_kappa, fleiss_kappa,
                                           fleiss_kappa_counts, item_pairwise_agreement, mean_pairwise_agreement)

# Fleiss' kappa worked example (Wikipedia, "Fleiss' kappa"): 10 subjects, 14 raters, 5 categories;
# P-bar = 0.378, P_e = 0.213, kappa = 0.210.
WIKI_FLEISS = np.array([
    [0, 0, 0, 0, 14], [0, 2, 6, 4, 2], [0, 0, 3, 5, 6], [0, 3, 9, 2, 0], [2, 2, 8, 1, 1],
    [7, 7, 0, 0, 0], [3, 2, 6, 3, 0], [2, 5, 3, 2, 2], [6, 5, 2, 1, 0], [0, 2, 2, 3, 7]])


def test_fleiss_textbook_example():
    assert fleiss_kappa_counts(WIKI_FLEISS) == pytest.approx(0.20993, abs=1e-4)


def test_fleiss_from_label_rows_equals_from_counts():
    rows = [[c for c, k in enumerate(r) for _ in range(k)] for r in WIKI_FLEISS]
    random.Random(0).shuffle(rows[3])  # column order within an item does not matter
    assert fleiss_kappa(rows) == pytest.approx(fleiss_kappa_counts(WIKI_FLEISS))
    assert mean_pairwise_agreement(rows) == pytest.approx(0.378, abs=1e-3)  # Fleiss' P-bar


def test_fleiss_hand_computed_two_raters():
    # P_i = 1, 0, 1, 1 -> P-bar 0.75; pooled shares a 3/8, b 5/8 -> P_e 34/64; kappa = 7/15
    rows = [["a", "a"], ["a", "b"], ["b", "b"], ["b", "b"]]
    assert fleiss_kappa(rows) == pytest.approx(7 / 15)


def test_fleiss_perfect_and_undefined():
    assert fleiss_kappa([["a", "a", "a"], ["b", "b", "b"]]) == pytest.approx(1.0)
    assert math.isnan(fleiss_kappa([["a", "a"], ["a", "a"]]))  # one category: chance agreement is 1
    assert math.isnan(fleiss_kappa([]))
    with pytest.raises(ValueError, match="same number"):
        fleiss_kappa([["a", "a"], ["a"]])


def test_cohen_textbook_examples():
    # Wikipedia "Cohen's kappa": 20 yes/yes, 5 yes/no, 10 no/yes, 15 no/no -> 0.4
    a = ["y"] * 25 + ["n"] * 25
    b = ["y"] * 20 + ["n"] * 5 + ["y"] * 10 + ["n"] * 15
    assert cohen_kappa(a, b) == pytest.approx(0.4)
    # second example: 45, 15, 25, 15 -> p_o 0.6, p_e 0.54 -> 0.1304
    a = ["y"] * 60 + ["n"] * 40
    b = ["y"] * 45 + ["n"] * 15 + ["y"] * 25 + ["n"] * 15
    assert cohen_kappa(a, b) == pytest.approx(0.06 / 0.46)


def test_cohen_matches_sklearn_on_random_labels():
    sk = pytest.importorskip("sklearn.metrics")
    rng = random.Random(1)
    a = [rng.choice("abc") for _ in range(200)]
    b = [x if rng.random() < 0.6 else rng.choice("abc") for x in a]
    assert cohen_kappa(a, b) == pytest.approx(sk.cohen_kappa_score(a, b))


def test_cohen_edge_cases():
    assert math.isnan(cohen_kappa([], []))
    assert math.isnan(cohen_kappa(["a", "a"], ["a", "a"]))
    with pytest.raises(ValueError, match="pair them up"):
        cohen_kappa(["a"], ["a", "b"])


def test_all_equal_and_pairwise_on_any_label_type():
    x, y, z = ("B-PER", "O"), ("O", "O"), ("B-LOC", "O")  # NER-like tuples compare with ==
    rows = [[x, x, x], [x, x, y], [x, y, z]]
    assert all_equal_share(rows) == pytest.approx(1 / 3)
    assert [item_pairwise_agreement(r) for r in rows] == pytest.approx([1, 1 / 3, 0])
    assert mean_pairwise_agreement(rows) == pytest.approx(4 / 9)


def test_single_column_and_empty():
    assert all_equal_share([["a"], ["b"]]) == 1.0
    assert math.isnan(mean_pairwise_agreement([["a"], ["b"]]))
    assert math.isnan(all_equal_share([]))
    assert math.isnan(mean_pairwise_agreement([]))


def test_category_counts_keeps_first_seen_order_or_given_categories():
    m, cats = category_counts([["b", "a"], ["a", "a"]])
    assert cats == ["b", "a"] and m.tolist() == [[1, 1], [0, 2]]
    m, cats = category_counts([["a"]], categories=["a", "b"])
    assert m.tolist() == [[1, 0]]
