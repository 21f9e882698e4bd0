"""Agreement statistics against their reference values and libraries; label issues found on a
set with injected label errors."""
import numpy as np
import pytest

from labelwise.quality.agreement import agreement_report, krippendorff_alpha, pairwise_cohen, reliability_matrix
from labelwise.quality.consistency import cohen_kappa, fleiss_kappa
from labelwise.quality.label_issues import label_issues

NAN = np.nan
# Krippendorff's (2011) example: 3 coders, 15 units, missing values (the krippendorff package's own test data)
KRIPP = [[NAN, NAN, NAN, NAN, NAN, 3, 4, 1, 2, 1, 1, 3, 3, NAN, 3],
         [1, NAN, 2, 1, 3, 3, 4, 3, NAN, NAN, NAN, NAN, NAN, NAN, NAN],
         [NAN, NAN, 2, 1, 3, 4, 4, NAN, 2, 1, 1, 3, 3, NAN, 4]]


def as_ratings(matrix):
    return {f"coder{a}": {f"u{b:02d}": (None if np.isnan(v) else int(v)) for b, v in enumerate(row)}
            for a, row in enumerate(matrix)}


def test_krippendorff_alpha_matches_the_library_and_the_published_value():
    import krippendorff
    ratings = as_ratings(KRIPP)
    m, items, cats = reliability_matrix(ratings, order=[1, 2, 3, 4])
    assert cats == [1, 2, 3, 4] and len(items) == 15 and np.isnan(m[:, 1]).all()  # unit 1: nobody rated it
    ours = krippendorff_alpha(ratings, "nominal", order=[1, 2, 3, 4])
    theirs = krippendorff.alpha(reliability_data=np.array(KRIPP), level_of_measurement="nominal")
    assert ours == pytest.approx(theirs) and ours == pytest.approx(0.691, abs=1e-3)
    assert krippendorff_alpha(ratings, "ordinal", order=[1, 2, 3, 4]) == pytest.approx(
        krippendorff.alpha(reliability_data=np.array(KRIPP), level_of_measurement="ordinal"))


def test_fleiss_kappa_on_the_classic_example():
    # Fleiss (1971) / Wikipedia: 10 items, 14 raters, 5 categories; kappa = 0.210
    counts = [[0, 0, 0, 0, 14], [0, 2, 6, 4, 2], [0, 0, 3, 5, 6], [0, 3, 9, 2, 0], [2, 2, 8, 1, 1],
              [7, 7, 0, 0, 0], [3, 2, 6, 3, 0], [2, 5, 3, 2, 2], [6, 5, 2, 1, 0], [0, 2, 2, 3, 7]]
    rows = [[c for c, k in enumerate(r) for _ in range(k)] for r in counts]
    assert fleiss_kappa(rows) == pytest.approx(0.210, abs=1e-3)


def test_pairwise_cohen_is_sklearns_over_shared_items_and_errors_are_missing():
    from sklearn.metrics import cohen_kappa_score
    rng = np.random.default_rng(0)
    a = rng.choice(["x", "y", "z"], 80)
    b = np.where(rng.random(80) < 0.7, a, rng.choice(["x", "y", "z"], 80))
    ratings = {"llm": {f"i{i}": v for i, v in enumerate(a)},
               "person": {f"i{i}": (None if i % 10 == 0 else v) for i, v in enumerate(b)}}
    (pair,) = pairwise_cohen(ratings)
    keep = [i for i in range(80) if i % 10]
    assert pair["items"] == 72 and pair["cohen_kappa"] == pytest.approx(cohen_kappa_score(a[keep], b[keep]))
    assert pair["cohen_kappa"] == pytest.approx(cohen_kappa(list(a[keep]), list(b[keep])))
    rep = agreement_report(ratings)
    assert rep["fleiss_items"] == 72 and rep["krippendorff_alpha"] == pytest.approx(
        krippendorff_alpha(ratings), abs=1e-12)
    ml = {"a": {"1": ["food", "price"], "2": ["food"]}, "b": {"1": ("food", "price"), "2": ["price"]}}
    assert pairwise_cohen(ml)[0]["agreement"] == 0.5  # label sets compare as sets of tuples


@pytest.mark.parametrize("noise", [0.05, 0.1, 0.2])
def test_label_issues_find_injected_errors(noise):
    rng = np.random.default_rng(1)
    n, classes = 400, ["a", "b", "c"]
    truth = rng.integers(0, 3, n)
    probs = np.full((n, 3), 0.05)
    probs[np.arange(n), truth] = 0.9
    probs = 0.8 * probs + 0.2 * rng.dirichlet(np.ones(3), n)  # a decent, imperfect model
    flipped = rng.choice(n, int(noise * n), replace=False)
    given = truth.copy()
    given[flipped] = (given[flipped] + rng.integers(1, 3, flipped.size)) % 3
    found = label_issues([classes[i] for i in given], probs, classes)
    got = {f["index"] for f in found}
    precision = len(got & set(flipped)) / max(len(got), 1)
    recall = len(got & set(flipped)) / flipped.size
    assert precision >= 0.9 and recall >= 0.8, (precision, recall)
    assert [f["quality"] for f in found] == sorted(f["quality"] for f in found)  # most suspect first
    assert all(f["suggested"] == classes[truth[f["index"]]] for f in found if f["index"] in set(flipped))
