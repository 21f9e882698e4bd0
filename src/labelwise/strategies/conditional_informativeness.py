"""Conditional informativeness: label the items on which fine-tuning moved the small model most
(|fine-tuned score - base score|, highest first) -- where the target domain differs from what
the base model already knew."""
from __future__ import annotations

from functools import partial

from .base import register_strategy
from .scoring import conditional_informativeness
from .uncertainty import ScoreStrategy

register_strategy("ci")(partial(
    ScoreStrategy, "ci", conditional_informativeness, ("finetuned_score", "base_score"),
    "the small model must report its base score next to the fine-tuned one"))
