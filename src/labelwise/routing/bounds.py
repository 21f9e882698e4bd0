"""Exact binomial confidence bounds: the arithmetic behind every routing guarantee.

A stage may label an item only if the error of what it accepts is bounded *with a stated
probability*, not merely estimated. The Clopper–Pearson bound is the exact (never anti-
conservative) bound for a binomial rate; we compute it by bisection on the binomial CDF in
pure numpy rather than through a Beta quantile, so the guarantee does not rest on a
dependency (scipy is not one) and the number can be checked by plugging it back into the CDF.
"""
from __future__ import annotations

import math

import numpy as np

_TOL = 1e-12


def _check(errors: int, n: int) -> None:
    if n < 0 or errors < 0 or errors > n:
        raise ValueError(f"need 0 <= errors <= n; got errors={errors}, n={n}")


def _check_delta(delta: float) -> None:
    if not 0.0 < delta < 1.0:
        raise ValueError(f"delta must be in (0, 1); got {delta}")


def binomial_cdf(k: int, n: int, p: float) -> float:
    """P(X <= k) for X ~ Binomial(n, p), summed exactly in log space.

    Log binomial coefficients are built as a running sum of log((n - i + 1) / i) rather than
    from lgamma(n + 1) - ..., which loses digits to cancellation once n is in the thousands."""
    _check(k, n)
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"p must be in [0, 1]; got {p}")
    if k >= n or p == 0.0:
        return 1.0
    if p == 1.0:
        return 0.0
    i = np.arange(1, k + 1, dtype=float)
    log_c = np.concatenate(([0.0], np.cumsum(np.log(n - i + 1.0) - np.log(i))))
    j = np.arange(k + 1, dtype=float)
    log_pmf = log_c + j * math.log(p) + (n - j) * math.log1p(-p)
    top = float(log_pmf.max())
    return min(1.0, math.exp(top) * float(np.exp(log_pmf - top).sum()))


def exceeds(errors: int, n: int, delta: float, alpha: float) -> bool:
    """Whether the (1 - delta) Clopper–Pearson upper bound on the error rate exceeds ``alpha``.

    One CDF evaluation instead of a bisection: the CDF falls as p rises, so the bound is
    <= alpha exactly when P(X <= errors; alpha) <= delta. Threshold calibration tests many
    candidates and needs only this yes/no."""
    _check(errors, n)
    _check_delta(delta)
    if alpha >= 1.0:
        return False
    if n == 0:
        return True
    return binomial_cdf(errors, n, alpha) > delta


def clopper_pearson_upper(errors: int, n: int, delta: float) -> float:
    """Exact one-sided (1 - delta) upper confidence bound on a binomial error rate.

    The value u with P(X <= errors; n, u) = delta, i.e. the Beta(errors + 1, n - errors)
    quantile at 1 - delta. With probability >= 1 - delta over the draw of the n items, the
    true rate is <= u. No items (n == 0) or all wrong bound nothing: 1.0. Found by bisection
    to 1e-12 and returned from the conservative side (the CDF at u is <= delta)."""
    _check(errors, n)
    _check_delta(delta)
    if n == 0 or errors == n:
        return 1.0
    lo, hi = errors / n, 1.0
    if binomial_cdf(errors, n, lo) <= delta:  # only when delta is large (> ~0.5)
        lo = 0.0
    while hi - lo > _TOL:
        mid = 0.5 * (lo + hi)
        if binomial_cdf(errors, n, mid) > delta:
            lo = mid
        else:
            hi = mid
    return hi
