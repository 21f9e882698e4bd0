"""Query by committee: label the items on which several small models disagree most
(vote entropy), a model-agnostic uncertainty that needs no calibrated probabilities."""
from __future__ import annotations

from functools import partial

from .base import register_strategy
from .scoring import vote_entropy
from .uncertainty import ScoreStrategy

register_strategy("committee")(partial(
    ScoreStrategy, "committee", vote_entropy, ("committee_votes",),
    "train a committee of small models and pass their votes as (n_models, n_items) class indices"))
