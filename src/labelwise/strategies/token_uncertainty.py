"""Uncertainty over sentences for NER: token tag entropies pooled per sentence, or how unlikely
the tagger's best tag sequence is."""
from __future__ import annotations

from functools import partial

import numpy as np

from .base import PoolState, register_strategy
from .scoring import best_sequence_logprob, max_token_entropy, mean_token_entropy, sequence_least_confidence
from .uncertainty import ScoreStrategy

_HINT = "the token tagger must report per-token tag marginals (n_tokens, n_tags) for each sentence"

register_strategy("mean_token_entropy")(partial(
    ScoreStrategy, "mean_token_entropy", mean_token_entropy, ("token_marginals",), _HINT))
register_strategy("max_token_entropy")(partial(
    ScoreStrategy, "max_token_entropy", max_token_entropy, ("token_marginals",), _HINT))


@register_strategy("sequence_least_confidence")
class SequenceLeastConfidence(ScoreStrategy):
    """``1 - P(best sequence)``: uses the tagger's own ``sequence_logprob`` (e.g. Viterbi of a
    CRF) when given, else the product of per-token best marginals."""

    def __init__(self) -> None:
        super().__init__("sequence_least_confidence", sequence_least_confidence, ("token_marginals",),
                         "the token tagger must report sequence_logprob or per-token tag marginals")
        self.needs = ("token_marginals", "sequence_logprob")

    def scores(self, state: PoolState) -> np.ndarray:
        if state.sequence_logprob is not None:
            return sequence_least_confidence(state.sequence_logprob)
        if state.token_marginals is None:
            raise ValueError(f"strategy '{self.name}' needs sequence_logprob or token_marginals; {self.hint}")
        return sequence_least_confidence(best_sequence_logprob(state.token_marginals))
