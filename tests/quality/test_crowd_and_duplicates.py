"""CROWDLAB over several annotators (against cleanlab called directly) and near-duplicates by
cosine similarity (against a brute-force loop)."""
import numpy as np
import pytest

from labelwise.quality.duplicates import near_duplicates
from labelwise.quality.label_issues import crowd_label_quality


def test_crowd_quality_ranks_a_careless_annotator_last_and_matches_cleanlab():
    from cleanlab.multiannotator import get_label_quality_multiannotator
    rng = np.random.default_rng(0)
    classes = ["a", "b", "c"]
    truth = rng.integers(0, 3, 120)
    good1 = {f"i{k}": classes[t] if rng.random() > 0.1 else classes[(t + 1) % 3] for k, t in enumerate(truth)}
    good2 = {f"i{k}": classes[t] if rng.random() > 0.15 else classes[(t + 2) % 3] for k, t in enumerate(truth)
             if k % 4}  # missing a quarter
    noisy = {f"i{k}": classes[int(rng.integers(0, 3))] for k in range(120)}
    probs = np.full((120, 3), 0.2)
    seen = {}

    def pred(ids, rows):
        assert len(rows) == 120 + 90 + 120  # one training row per annotation
        out = probs.copy()
        for r, i in enumerate(ids):
            out[r, truth[int(i[1:])]] = 0.6  # a model that knows the truth
        seen["ids"] = ids
        return out
    got = crowd_label_quality({"good1": good1, "good2": good2, "noisy": noisy}, classes, pred)
    q = {a["annotator"]: a["quality"] for a in got["annotators"]}
    assert q["noisy"] < min(q["good1"], q["good2"])
    # the same numbers as cleanlab on the same matrix
    ids = seen["ids"]
    import pandas as pd
    m = pd.DataFrame({n: [classes.index(d[i]) if i in d else np.nan for i in ids]
                      for n, d in (("good1", good1), ("good2", good2), ("noisy", noisy))})
    ref = get_label_quality_multiannotator(m, pred(ids, [None] * 330), verbose=False)
    assert q["noisy"] == pytest.approx(float(ref["annotator_stats"].loc["noisy", "annotator_quality"]))
    worst = got["items"][0]
    assert worst["quality"] == pytest.approx(float(ref["label_quality"]["consensus_quality_score"].min()))


def test_crowd_quality_needs_shared_items():
    with pytest.raises(ValueError):
        crowd_label_quality({"a": {"1": "x"}, "b": {"2": "x"}}, ["x", "y"], lambda ids, c: np.ones((len(ids), 2)) / 2)


def test_near_duplicates_match_brute_force_and_skip_exact_copies():
    rng = np.random.default_rng(1)
    v = rng.normal(size=(300, 16))
    v[10] = v[3] + 0.01 * rng.normal(size=16)
    v[200] = v[3] + 0.02 * rng.normal(size=16)
    v[77] = v[5]
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    got = near_duplicates(v, 0.95, block=64)
    brute = sorted((i, j) for i in range(300) for j in range(i + 1, 300) if v[i] @ v[j] >= 0.95)
    assert sorted((i, j) for i, j, _ in got) == brute and (3, 10) in brute and (5, 77) in brute
    assert [s for *_, s in got] == sorted((s for *_, s in got), reverse=True)
    exact = np.arange(300)
    exact[77] = 5  # 5 and 77 are the same text
    assert (5, 77) not in {(i, j) for i, j, _ in near_duplicates(v, 0.95, exact=exact)}
