"""Threshold calibration (fixed-sequence Learn-then-Test) on hand-made gold, and its guarantee."""
import numpy as np
import pytest

from labelwise.routing import ThresholdResult, calibrate_threshold, clopper_pearson_upper


def _groups(*groups):
    """(confidence, n_items, n_errors) groups -> confidence and correct arrays."""
    conf = np.concatenate([np.full(m, c) for c, m, _ in groups])
    correct = np.concatenate([np.arange(m) >= e for _, m, e in groups])
    return conf, correct


def test_clear_threshold_has_the_exact_expected_numbers():
    # 150 at 0.9 all right, 20 at 0.6 with one error, 30 at 0.3 all wrong: 200 gold items.
    conf, correct = _groups((0.9, 150, 0), (0.6, 20, 1), (0.3, 30, 30))
    r = calibrate_threshold(conf, correct, target_accuracy=0.9, delta=0.1)
    assert isinstance(r, ThresholdResult)
    assert r.threshold == 0.6 and r.accepted == 170 and r.n == 200 and r.tested == 3
    assert r.coverage == 170 / 200 and r.accuracy == 169 / 170
    u = r.error_bound  # the exact bound for 1 error in 170: (1-u)^170 + 170 u (1-u)^169 = delta
    assert (1 - u) ** 170 + 170 * u * (1 - u) ** 169 == pytest.approx(0.1, abs=1e-10)
    assert "0.3" in r.reason and "31 errors" in r.reason
    assert r.guarantee == ("accepted items have error <= 0.1 with probability >= 0.9 over the draw of "
                           "the gold set, if gold and pool are exchangeable")
    assert r.accept([0.95, 0.6, 0.59]).tolist() == [True, True, False]


def test_strict_threshold_alone_bound_is_zero_error_closed_form():
    conf, correct = _groups((0.9, 150, 0), (0.3, 50, 50))
    r = calibrate_threshold(conf, correct, 0.9, 0.1)
    assert r.threshold == 0.9 and r.coverage == 0.75 and r.accuracy == 1.0
    assert r.error_bound == pytest.approx(1 - 0.1 ** (1 / 150), abs=1e-11)


def test_distinct_confidences_match_a_naive_reference():
    rng = np.random.default_rng(3)
    conf = rng.random(200)
    correct = rng.random(200) < conf ** 0.3
    r = calibrate_threshold(conf, correct, 0.85, 0.1)
    best = None
    for t in np.sort(conf)[::-1]:  # the rule written out longhand with the bound itself
        acc = conf >= t
        if acc.sum() < 30:
            continue
        if clopper_pearson_upper(int((~correct[acc]).sum()), int(acc.sum()), 0.1) > 0.15:
            break
        best = t
    assert best is not None and r.threshold == best
    assert r.accepted == int((conf >= best).sum())


def test_no_safe_threshold_is_a_normal_outcome_with_a_reason():
    conf = np.linspace(0, 1, 100)
    correct = np.arange(100) % 2 == 0  # half wrong at every confidence
    r = calibrate_threshold(conf, correct, 0.9, 0.1)
    assert r.threshold is None and r.accepted == 0 and r.coverage == 0.0 and r.accuracy is None
    assert r.error_bound == 1.0 and r.tested == 1
    assert "no safe threshold" in r.reason and "15 errors" in r.reason
    assert not r.accept(conf).any()


def test_fewer_gold_items_than_the_minimum_accepts_nothing():
    r = calibrate_threshold(np.linspace(0.5, 1, 20), np.ones(20, bool), 0.9, 0.1)
    assert r.threshold is None and r.tested == 0 and "at least 30" in r.reason
    # strict thresholds below the minimum are skipped, not a stop: testing starts at 30 accepted
    r = calibrate_threshold(np.linspace(0.5, 1, 40), np.ones(40, bool), 0.9, 0.1)
    assert r.threshold == 0.5 and r.tested == 11


def test_fixed_sequence_stops_at_the_first_failure():
    # 0.9 passes (40 right), 0.8 fails (10 more, all wrong), 0.7 would pass on its own.
    conf, correct = _groups((0.9, 40, 0), (0.8, 10, 10), (0.7, 400, 0))
    assert clopper_pearson_upper(10, 450, 0.1) < 0.1  # the lenient one alone would pass
    r = calibrate_threshold(conf, correct, 0.9, 0.1)
    assert r.threshold == 0.9 and r.accepted == 40 and r.tested == 2
    assert "0.8" in r.reason


def test_candidates_fixed_in_advance():
    conf, correct = _groups((0.9, 150, 0), (0.6, 20, 1), (0.3, 30, 30))
    r = calibrate_threshold(conf, correct, 0.9, 0.1, candidates=[0.95, 0.7, 0.5, 0.1])
    assert r.threshold == 0.5 and r.accepted == 170


def test_bad_input_fails_loudly():
    with pytest.raises(ValueError):
        calibrate_threshold([0.5, np.nan], [True, False], 0.9, 0.1)
    with pytest.raises(ValueError):
        calibrate_threshold([0.5, 0.6], [True], 0.9, 0.1)
    with pytest.raises(ValueError):
        calibrate_threshold([0.5], [True], 0.9, 1.0)


def test_guarantee_holds_in_simulation():
    """Confidence ~ U(0, 1) and P(correct | c) = c, so the true error of {c >= t} is (1 - t) / 2:
    target 0.9 is met exactly for t >= 0.8. Over 300 gold sets, the accepted region's true error
    may exceed 0.1 in at most delta = 10% of them (plus sampling slack)."""
    rng = np.random.default_rng(20240610)
    violations, coverages = 0, []
    for _ in range(300):
        conf = rng.random(2000)
        correct = rng.random(2000) < conf
        r = calibrate_threshold(conf, correct, target_accuracy=0.9, delta=0.1)
        if r.threshold is not None:
            violations += (1 - r.threshold) / 2 > 0.1
            coverages.append(1 - r.threshold)
    assert violations / 300 <= 0.1 + 0.05
    # it does accept, not just refuse (an early failure near the top ends a fixed sequence, so
    # some draws accept nothing; the oracle coverage is 0.2)
    assert len(coverages) > 200 and np.mean(coverages) > 0.08
