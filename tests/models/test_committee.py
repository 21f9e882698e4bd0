"""The committee wrapper on the real encoder: bagged members, the soft vote, and continual
learning that moves its answers on the hard items it is taught."""
from __future__ import annotations

import numpy as np
import pytest

from labelwise.models import LogRegModel
from labelwise.models.committee import Committee

from .conftest import HELD_OUT, LABELS, TEXTS

pytestmark = pytest.mark.real_model


def test_members_fit_different_bootstrap_samples_and_the_vote_is_their_mean(encoder):
    c = Committee(LogRegModel(encoder=encoder), size=3, seed=1).fit(TEXTS, LABELS)
    X = [t for t, _ in HELD_OUT]
    per = c.member_proba(X)
    assert per.shape == (3, len(X), 2) and list(c.classes_) == ["negative", "positive"]
    np.testing.assert_allclose(c.predict_proba(X), per.mean(axis=0))
    np.testing.assert_allclose(c.predict_proba(X).sum(axis=1), 1.0)
    assert not np.allclose(per[0], per[1]) or not np.allclose(per[1], per[2])  # bagging: members differ
    assert c.votes(X).shape == (3, len(X))
    assert list(c.predict(X)) == [lab for _, lab in HELD_OUT]  # easy held-out reviews, right


def test_a_committee_of_one_is_the_model_itself(encoder):
    alone = LogRegModel(encoder=encoder).fit(TEXTS, LABELS)
    one = Committee(LogRegModel(encoder=encoder), size=1).fit(TEXTS, LABELS)
    X = [t for t, _ in HELD_OUT]
    np.testing.assert_allclose(one.predict_proba(X), alone.predict_proba(X))


def test_continual_learning_moves_the_members_toward_what_the_next_stage_said(encoder):
    """Hard items taught with labels opposite to what the committee thinks: every member's
    probability of the taught label goes up on each of them, and the vote follows."""
    c = Committee(LogRegModel(encoder=encoder, C=10.0), size=3, seed=0).fit(TEXTS, LABELS)
    hard = [t for t, _ in HELD_OUT]
    taught = ["negative" if lab == "positive" else "positive" for _, lab in HELD_OUT]
    col = {k: j for j, k in enumerate(c.classes_)}
    before = c.member_proba(hard)
    assert (c.predict(hard) != np.array(taught)).all()
    c.update(hard, taught)
    after = c.member_proba(hard)
    for i, lab in enumerate(taught):
        assert (after[:, i, col[lab]] > before[:, i, col[lab]]).all()
    assert (c.predict(hard) == np.array(taught)).mean() >= 0.5 and c.updates_ == 1


def test_bad_input_is_refused():
    with pytest.raises(ValueError, match="at least one member"):
        Committee(LogRegModel(), size=0)
    with pytest.raises(ValueError, match="not fitted"):
        Committee(LogRegModel()).predict_proba(["x"])
    with pytest.raises(ValueError, match="at least one labeled input"):
        Committee(LogRegModel()).fit([], [])
