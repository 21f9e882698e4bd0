"""Exact binomial bounds: closed forms, plugging the bound back into the CDF, and scipy if present."""
import math

import pytest

from labelwise.routing import binomial_cdf, clopper_pearson_upper, exceeds


@pytest.mark.parametrize("n", [1, 2, 10, 30, 150, 1000])
@pytest.mark.parametrize("delta", [0.01, 0.05, 0.1, 0.5])
def test_zero_errors_matches_closed_form(n, delta):
    assert clopper_pearson_upper(0, n, delta) == pytest.approx(1 - delta ** (1 / n), abs=1e-11)


def test_one_error_solves_its_equation():
    # P(X <= 1) = (1-u)^n + n u (1-u)^(n-1) must equal delta at the bound.
    u = clopper_pearson_upper(1, 170, 0.1)
    assert (1 - u) ** 170 + 170 * u * (1 - u) ** 169 == pytest.approx(0.1, abs=1e-10)
    assert u == pytest.approx(0.0226871184, abs=1e-9)


@pytest.mark.parametrize("errors,n,delta,expected", [
    (5, 100, 0.05, 0.1022533776),   # Beta(6, 95) quantile at 0.95
    (10, 450, 0.1, 0.0340311216),
    (50, 200, 0.1, 0.2935252047),
])
def test_hand_checked_values_are_where_the_cdf_equals_delta(errors, n, delta, expected):
    u = clopper_pearson_upper(errors, n, delta)
    assert u == pytest.approx(expected, abs=1e-9)
    assert binomial_cdf(errors, n, u) == pytest.approx(delta, abs=1e-9)
    assert binomial_cdf(errors, n, u) <= delta          # returned from the conservative side
    assert binomial_cdf(errors, n, u - 1e-9) > delta


def test_edges():
    assert clopper_pearson_upper(0, 0, 0.1) == 1.0
    assert clopper_pearson_upper(7, 7, 0.1) == 1.0
    assert clopper_pearson_upper(3, 5, 0.7) < 3 / 5 + 0.01  # large delta: bound can sit near the rate
    with pytest.raises(ValueError):
        clopper_pearson_upper(3, 2, 0.1)
    with pytest.raises(ValueError):
        clopper_pearson_upper(0, 10, 0.0)


def test_binomial_cdf_small_case_by_hand():
    p, n = 0.3, 4
    by_hand = sum(math.comb(n, i) * p ** i * (1 - p) ** (n - i) for i in range(3))
    assert binomial_cdf(2, n, p) == pytest.approx(by_hand, rel=1e-14)
    assert binomial_cdf(4, 4, 0.3) == 1.0 and binomial_cdf(0, 4, 0.0) == 1.0 and binomial_cdf(1, 4, 1.0) == 0.0


def test_exceeds_agrees_with_the_bound():
    for errors, n in [(0, 30), (3, 60), (10, 450), (12, 100)]:
        u = clopper_pearson_upper(errors, n, 0.1)
        assert exceeds(errors, n, 0.1, u - 1e-6) and not exceeds(errors, n, 0.1, u + 1e-6)
    assert exceeds(0, 0, 0.1, 0.5) and not exceeds(5, 5, 0.1, 1.0)


def test_matches_scipy_beta_quantile_when_available():
    stats = pytest.importorskip("scipy.stats")
    for errors, n, delta in [(0, 1, 0.1), (1, 30, 0.05), (17, 400, 0.1), (100, 10000, 0.01), (29, 30, 0.2)]:
        ref = stats.beta.ppf(1 - delta, errors + 1, n - errors)
        assert clopper_pearson_upper(errors, n, delta) == pytest.approx(ref, abs=1e-10)
