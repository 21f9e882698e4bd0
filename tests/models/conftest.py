"""Hand-written data and a call-counting encoder for the small-model tests."""
from __future__ import annotations

import os
from typing import Sequence

import numpy as np
import pytest

from labelwise.models.encoder import Encoder

os.environ.setdefault("HF_HUB_OFFLINE", "1")

POSITIVE = [
    "The pasta was delicious and the waiter was lovely.",
    "Best pizza I have had in years, we will be back.",
    "Friendly staff, quick service and tasty food.",
    "The steak was cooked perfectly and the wine was great.",
    "A wonderful dinner, every dish was a delight.",
    "Fresh sushi, generous portions and a cosy room.",
    "We loved the desserts, absolutely amazing.",
    "Great value for money and the curry was superb.",
    "The brunch was fantastic and the coffee excellent.",
    "Charming place with delightful, attentive service.",
    "I enjoyed every bite, highly recommended.",
    "The soup was rich and flavourful, a real treat.",
]
NEGATIVE = [
    "The food was cold and the waiter was rude.",
    "Worst burger ever, greasy and tasteless.",
    "We waited an hour and the order was wrong.",
    "The fish smelled off and made me sick.",
    "Overpriced, bland and the table was dirty.",
    "Terrible service, we will never come back.",
    "The salad was wilted and the bread was stale.",
    "Noisy, cramped and the staff ignored us.",
    "My soup arrived lukewarm and far too salty.",
    "A disappointing meal, nothing tasted right.",
    "The chicken was dry and the fries were soggy.",
    "Awful experience, the manager was unpleasant.",
]
TEXTS = [t for pair in zip(POSITIVE, NEGATIVE) for t in pair]  # interleaved
LABELS = ["positive", "negative"] * len(POSITIVE)
HELD_OUT = [
    ("An excellent meal with outstanding service.", "positive"),
    ("Delicious food and a lovely atmosphere.", "positive"),
    ("The noodles were fantastic, I will return.", "positive"),
    ("Disgusting food and a filthy kitchen.", "negative"),
    ("The waiter was rude and the meat was burnt.", "negative"),
    ("Horrible dinner, cold plates and slow staff.", "negative"),
]

PARAPHRASES = [
    ("The cat sat on the mat.", "A cat was sitting on the mat."),
    ("He bought a new car yesterday.", "Yesterday he purchased a new car."),
    ("The meeting was postponed until Friday.", "The meeting has been moved to Friday."),
    ("She is very good at playing the piano.", "She plays the piano very well."),
    ("The store closes at nine in the evening.", "The shop shuts at 9 pm."),
    ("It is raining heavily in London today.", "There is heavy rain in London today."),
    ("The company reported record profits.", "The firm announced its highest profits ever."),
    ("I forgot my keys at home.", "I left my keys at home."),
    ("The children are playing in the park.", "Kids are playing in the park."),
    ("The train was delayed by twenty minutes.", "The train arrived twenty minutes late."),
]
NON_PARAPHRASES = [
    ("The cat sat on the mat.", "The dog chased the ball in the garden."),
    ("He bought a new car yesterday.", "He sold his old bicycle last week."),
    ("The meeting was postponed until Friday.", "The restaurant serves excellent seafood."),
    ("She is very good at playing the piano.", "She hates cooking dinner."),
    ("The store closes at nine in the evening.", "The museum is free on Sundays."),
    ("It is raining heavily in London today.", "Paris is sunny and warm today."),
    ("The company reported record profits.", "The company laid off half its staff."),
    ("I forgot my keys at home.", "My brother lives in Canada."),
    ("The children are playing in the park.", "The stock market fell sharply."),
    ("The train was delayed by twenty minutes.", "The flight was cancelled due to snow."),
]
PAIRS = [p for two in zip(PARAPHRASES, NON_PARAPHRASES) for p in two]
PAIR_LABELS = ["paraphrase", "different"] * len(PARAPHRASES)


class CountingEncoder(Encoder):
    """The real encoder, counting how many texts it was asked to encode."""

    def __init__(self) -> None:
        super().__init__()
        self.calls = 0
        self.texts = 0

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        if texts:
            self.calls += 1
            self.texts += len(texts)
        return super().encode(texts)


@pytest.fixture(scope="session")
def encoder() -> CountingEncoder:
    return CountingEncoder()
