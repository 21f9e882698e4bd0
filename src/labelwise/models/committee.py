"""A committee of small models: k copies of one model, each fit on its own bootstrap sample of
the labels (bagging), voting softly; and continual learning from the items it was unsure of.

The soft vote is the mean of what the members output, for any task kind: class probabilities
(``predict_proba``), one yes/no probability per label for a multi-label member
(``label_proba``, e.g. ``loop_models.OneVsRest``), or per-token tag marginals for a tagger
(``token_marginals``, e.g. the CRF). ``predict`` answers in the members' own terms: a class, a
label set, or a tag sequence.

The active-learning loop reads its members' votes (query by committee); the router uses it as a
stage whose confidence is the committee's soft vote, and after each batch teaches it the labels
the next stage gave to the items the committee could not keep (AutoAnnotator's continual
fine-tuning on hard samples). Members are refit on everything learned so far, with the hard
items in every member's sample (not left to the bootstrap), so each member learns each of them.
For a frozen-encoder model (`logreg`) refitting is exactly continued training; a fine-tuned
encoder starts again from its pretrained weights on the grown set, which costs more but never
forgets the first labels.
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np


class Committee:
    """``size`` clones of ``member`` (an unfitted small model), fit on bootstrap samples.

    ``classes_`` is the members' classes when they all have the same (in their order), else the
    sorted union of the labels seen; ``predict_proba`` is the mean of the
    members' probabilities over those classes (a class a member never saw gets 0 from it)."""

    def __init__(self, member: Any, size: int = 3, seed: int = 0) -> None:
        if size < 1:
            raise ValueError(f"a committee needs at least one member; got size={size}")
        self.member = member
        self.size = size
        self.seed = seed

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        return {"member": self.member, "size": self.size, "seed": self.seed}

    def clone(self) -> "Committee":
        return Committee(self.member.clone(), self.size, self.seed)

    # -- fitting ---------------------------------------------------------------------------
    def fit(self, X: Sequence[Any], labels: Sequence[Any]) -> "Committee":
        self.X_, self.y_ = list(X), list(labels)
        self.hard_X_, self.hard_y_ = [], []
        self.updates_ = 0
        return self._fit_members()

    def update(self, X: Sequence[Any], labels: Sequence[Any]) -> "Committee":
        """Learn hard items (what the next stage labeled for items the committee forwarded): every
        member is refit on its bootstrap sample plus all hard items learned so far."""
        self._check_fitted()
        X, labels = list(X), list(labels)
        if len(X) != len(labels):
            raise ValueError(f"update needs one label per input; got {len(X)} inputs, {len(labels)} labels")
        if not X:
            return self
        self.hard_X_ += X
        self.hard_y_ += labels
        self.updates_ += 1
        return self._fit_members()

    def _fit_members(self) -> "Committee":
        n = len(self.X_)
        if n == 0:
            raise ValueError("a committee needs at least one labeled input to fit")
        rng = np.random.default_rng(self.seed * 104729 + 31 * self.updates_ + n)
        every = list(range(n))
        members = []
        for j in range(self.size):
            idx = every if self.size == 1 else rng.integers(0, n, n).tolist()
            if len({_key(self.y_[i]) for i in idx}) < 2:
                idx = every  # a one-class sample teaches nothing to tell apart
            X = [self.X_[i] for i in idx] + self.hard_X_
            y = [self.y_[i] for i in idx] + self.hard_y_
            members.append(self.member.clone().fit(X, y))
        self.members_ = members
        seen = [list(m.classes_) for m in members]
        same = all(s == seen[0] for s in seen)  # e.g. multi-label members: the task's label order, kept
        self.classes_ = np.array(seen[0] if same else sorted({c for s in seen for c in s}, key=str), dtype=object)
        return self

    # -- predicting ------------------------------------------------------------------------
    def _check_fitted(self) -> None:
        if not hasattr(self, "members_"):
            raise ValueError("the committee is not fitted yet; call fit(X, labels) first")

    def member_proba(self, X: Sequence[Any]) -> np.ndarray:
        """(size, n, len(classes_)): each member's probabilities over the committee's classes."""
        self._check_fitted()
        X = list(X)
        out = np.zeros((len(self.members_), len(X), len(self.classes_)))
        col = {c: j for j, c in enumerate(self.classes_)}
        for i, m in enumerate(self.members_):
            p = np.asarray(m.predict_proba(X), dtype=float)
            for k, c in enumerate(m.classes_):
                out[i, :, col[c]] = p[:, k]
        return out

    def predict_proba(self, X: Sequence[Any]) -> np.ndarray:
        """The soft vote: mean member probability per class, rows summing to 1."""
        return self.member_proba(X).mean(axis=0)

    def label_proba(self, X: Sequence[Any]) -> np.ndarray:
        """Multi-label members: (n, n_labels), the mean probability that each item carries each
        label (the members share the task's label order)."""
        self._check_fitted()
        return np.mean([np.asarray(m.label_proba(list(X)), dtype=float) for m in self.members_], axis=0)

    def token_marginals(self, X: Sequence[Any]) -> list[np.ndarray]:
        """Tagging members: per sentence an (n_tokens, len(classes_)) array, the mean of the
        members' tag marginals (a tag a member never saw gets 0 from it)."""
        self._check_fitted()
        X = list(X)
        col = {c: j for j, c in enumerate(self.classes_)}
        out = [np.zeros((len(x), len(self.classes_))) for x in X]
        for m in self.members_:
            idx = [col[c] for c in m.classes_]
            for acc, marg in zip(out, m.token_marginals(X)):
                acc[:, idx] += np.asarray(marg, dtype=float) / len(self.members_)
        return out

    @property
    def tags_(self) -> list[Any]:
        """A tagger's name for its classes (what the loop's tagger adapter reads)."""
        return list(self.classes_)

    def predict(self, X: Sequence[Any]) -> Any:
        """The soft vote's answer: a class per item; for multi-label members the labels with mean
        probability >= 0.5; for taggers each token's most probable mean tag, as valid BIO (an I-
        that continues nothing opens its entity)."""
        if hasattr(self.member, "token_marginals"):
            from ..tasks.bio import spans_to_tags, tags_to_spans
            return [spans_to_tags(len(m), tags_to_spans([self.classes_[j] for j in m.argmax(axis=1)]))
                    for m in self.token_marginals(X)]
        if hasattr(self.member, "label_proba"):
            labels = list(self.classes_)
            return [tuple(l for l, p in zip(labels, row) if p >= 0.5) for row in self.label_proba(X)]
        return self.classes_[self.predict_proba(X).argmax(axis=1)]

    def votes(self, X: Sequence[Any]) -> np.ndarray:
        """(size, n) hard votes as indices into ``classes_``."""
        return self.member_proba(X).argmax(axis=2)


def _key(label: Any) -> str:
    return "|".join(map(str, label)) if isinstance(label, (list, tuple)) else str(label)
