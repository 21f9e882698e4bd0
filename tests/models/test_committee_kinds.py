"""The committee for the other task kinds: CRF taggers (NER) voting with their mean token
marginals, and one-vs-rest multi-label members voting with their mean per-label probabilities;
continual learning moves a tagging committee toward what it was taught on sentences it got wrong."""
from __future__ import annotations

import random

import numpy as np
import pytest

from labelwise.loop_models import OneVsRest
from labelwise.models import LogRegModel
from labelwise.models.committee import Committee
from labelwise.models.crf import CRFTagger
from labelwise.tasks.bio import spans_to_tags, tags_to_spans

from .test_crf import TAGS, TEST_PEOPLE, TEST_PLACES, X_TEST, X_TRAIN, Y_TEST, Y_TRAIN, fill, token_accuracy


@pytest.fixture(scope="module")
def taggers() -> Committee:
    return Committee(CRFTagger(), size=3, seed=0).fit(X_TRAIN, Y_TRAIN)


def test_a_tagging_committee_votes_with_its_members_mean_marginals(taggers):
    c = taggers
    assert list(c.classes_) == TAGS and c.tags_ == TAGS
    marg = c.token_marginals(X_TEST)
    for m, x in zip(marg, X_TEST):
        assert m.shape == (len(x), len(TAGS)) and np.allclose(m.sum(axis=1), 1.0)
    per_member = [mem.token_marginals(X_TEST[:3]) for mem in c.members_]
    for i in range(3):
        np.testing.assert_allclose(marg[i], np.mean([pm[i] for pm in per_member], axis=0))
    pred = c.predict(X_TEST)
    assert all(isinstance(p, tuple) and len(p) == len(x) for p, x in zip(pred, X_TEST))
    assert all(tuple(p) == spans_to_tags(len(p), tags_to_spans(list(p))) for p in pred)  # valid BIO
    assert token_accuracy(pred, Y_TEST) >= 0.9


def test_a_tagging_committee_repairs_an_orphan_inside_tag():
    """The mean of marginals can put I-PER after O; the answer opens the entity instead."""
    class Fixed(CRFTagger):
        def token_marginals(self, X):
            m = np.zeros((2, len(TAGS)))
            m[0, TAGS.index("O")] = m[1, TAGS.index("I-PER")] = 1.0
            return [m for _ in X]

    c = Committee(Fixed(), size=2).fit(X_TRAIN, Y_TRAIN)
    assert c.predict([["so", "Ann"]]) == [("O", "B-PER")]


def test_continual_learning_moves_a_tagging_committee_on_the_sentences_it_got_wrong(taggers):
    c = Committee(CRFTagger(), size=3, seed=0).fit(X_TRAIN, Y_TRAIN)
    rng = random.Random(5)
    shapes = ["Tickets to {L} cost more than {P} expected .", "{L} welcomed {P} warmly .",
              "Without {P} , {L} felt empty ."]
    hard = [fill(shapes[i % 3], rng.sample(TEST_PEOPLE, 1), rng.choice(TEST_PLACES)) for i in range(9)]
    X, y = [t for t, _ in hard], [g for _, g in hard]
    before = c.predict(X)
    c.update(X, y)
    after = c.predict(X)
    right_before = sum(tuple(p) == tuple(g) for p, g in zip(before, y))
    right_after = sum(tuple(p) == tuple(g) for p, g in zip(after, y))
    assert right_before < len(y) and right_after > right_before and c.updates_ == 1
    assert token_accuracy(after, y, entities_only=True) > token_accuracy(before, y, entities_only=True)


@pytest.mark.real_model
def test_a_multilabel_committee_votes_per_label_and_answers_sets(encoder):
    labels = ["food", "service"]
    texts = ["The pasta was delicious.", "Tasty curry and fresh bread.", "The waiter was rude.",
             "Staff ignored us for an hour.", "Great pizza and a friendly waiter.", "Lovely soup, kind staff.",
             "The steak was dry.", "Service was quick and polite."]
    sets = [("food",), ("food",), ("service",), ("service",), ("food", "service"), ("food", "service"),
            ("food",), ("service",)]
    c = Committee(OneVsRest(LogRegModel(encoder=encoder, C=10.0), labels), size=3, seed=0).fit(texts, sets)
    assert list(c.classes_) == labels  # the members' label order, not a sorted union
    X = ["The noodles were wonderful.", "Our server was very rude to us."]
    P = c.label_proba(X)
    assert P.shape == (2, 2) and ((P >= 0) & (P <= 1)).all()
    np.testing.assert_allclose(P, np.mean([m.label_proba(X) for m in c.members_], axis=0))
    assert c.predict(X) == [tuple(l for l, p in zip(labels, row) if p >= 0.5) for row in P]
    assert P[0, 0] > P[0, 1] and P[1, 1] > P[1, 0]
