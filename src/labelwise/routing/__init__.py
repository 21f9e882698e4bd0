"""Routing: which stage labels each item, with thresholds calibrated on gold under a guarantee.

Pure maths here (no I/O): exact binomial bounds, threshold calibration by fixed-sequence
testing, the chain-ensemble baseline, and per-stage confidence measures.
"""
from .bounds import binomial_cdf, clopper_pearson_upper, exceeds
from .confidence import agreement, margin, min_token_confidence, top_probability, vote_share
from .thresholds import ThresholdResult, calibrate_threshold, chain_ensemble_shares, risk_coverage

__all__ = [
    "ThresholdResult", "agreement", "binomial_cdf", "calibrate_threshold", "chain_ensemble_shares",
    "clopper_pearson_upper", "exceeds", "margin", "min_token_confidence", "risk_coverage", "top_probability",
    "vote_share",
]
