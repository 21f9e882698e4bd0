""""logreg": encoder embeddings + logistic regression -- the default small model (seconds to fit).

Its *base* model, for conditional informativeness (``ci``), is what the pretrained encoder says
with no labels learned: zero-shot, each item's cosine similarity to the embedding of each
class's text (``label_texts``: the label with its description; the active-learning loop passes
the task's), softmaxed with one scale chosen by training log-loss. Without label texts the
base is a nearest-class-centroid classifier on the same embeddings -- not a pretrained base
(it is fit on the same labels), so the loop always passes label texts.
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from .base import SmallModelMixin, Texts, check_labels, check_texts, register_small_model
from .encoder import DEFAULT_ENCODER, Encoder

_SCALES = np.geomspace(1.0, 300.0, 48)  # softmax temperatures tried for the prototype classifier


def _softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


class Prototypes:
    """Cosine similarity to each class's mean embedding, softmaxed with one scale chosen by
    training log-loss (a 1-parameter calibration, so it stays a *base*, not a learned model)."""

    def fit(self, E: np.ndarray, y: np.ndarray, k: int) -> "Prototypes":
        cent = np.stack([E[y == c].mean(axis=0) for c in range(k)])
        self.centroids_ = cent / np.maximum(np.linalg.norm(cent, axis=1, keepdims=True), 1e-12)
        sims = E @ self.centroids_.T
        nll = [-np.log(_softmax(s * sims)[np.arange(len(y)), y] + 1e-12).mean() for s in _SCALES]
        self.scale_ = float(_SCALES[int(np.argmin(nll))])
        return self

    def fit_fixed(self, E: np.ndarray, y: np.ndarray, anchors: np.ndarray) -> "Prototypes":
        """Use ``anchors`` (one unit vector per class, e.g. label-text embeddings) as the
        centroids; only the scale is chosen on the training items."""
        self.centroids_ = anchors / np.maximum(np.linalg.norm(anchors, axis=1, keepdims=True), 1e-12)
        sims = E @ self.centroids_.T
        nll = [-np.log(_softmax(s * sims)[np.arange(len(y)), y] + 1e-12).mean() for s in _SCALES]
        self.scale_ = float(_SCALES[int(np.argmin(nll))])
        return self

    def predict_proba(self, E: np.ndarray) -> np.ndarray:
        return _softmax(self.scale_ * (E @ self.centroids_.T))


@register_small_model("logreg")
class LogRegModel(SmallModelMixin):
    """Frozen encoder embeddings (computed once, cached in the store) + scikit-learn
    ``LogisticRegression``. A training set with one class predicts that class with probability 1."""

    def __init__(self, C: float = 1.0, max_iter: int = 1000, class_weight: Any = None, seed: int = 0,
                 encoder: str | Encoder = DEFAULT_ENCODER, store: Any = None,
                 label_texts: dict[str, str] | None = None) -> None:
        self.label_texts = label_texts
        self.C = C
        self.max_iter = max_iter
        self.class_weight = class_weight
        self.seed = seed
        self.encoder = encoder
        self.store = store

    def fit(self, X: Texts, labels: Sequence[str]) -> "LogRegModel":
        texts = check_texts(X)
        classes, y = check_labels(texts, labels)
        E = self.embed(texts)
        self.fit_embeddings(E, y, classes)
        return self

    def fit_embeddings(self, E: np.ndarray, y: np.ndarray, classes: np.ndarray) -> "LogRegModel":
        """Fit on precomputed embeddings (label indices ``y`` into sorted ``classes``)."""
        from sklearn.linear_model import LogisticRegression
        self.clf_ = None
        if len(classes) > 1:
            self.clf_ = LogisticRegression(C=self.C, max_iter=self.max_iter, class_weight=self.class_weight,
                                           random_state=self.seed).fit(E, y)
        self.prototypes_ = Prototypes().fit(E, y, len(classes))
        self.zero_shot_ = None
        if self.label_texts is not None:  # the class texts' embeddings stand in for the centroids
            L = self.embed([self.label_texts.get(str(c), str(c)) for c in classes])
            self.zero_shot_ = Prototypes().fit_fixed(E, y, L)
        self.n_features_in_ = E.shape[1]
        self.classes_ = classes
        return self

    def proba_from_embeddings(self, E: np.ndarray) -> np.ndarray:
        self._check_fitted()
        if self.clf_ is None:
            return np.ones((len(E), 1))
        return self.clf_.predict_proba(E)  # its classes_ are 0..k-1, i.e. our sorted order

    def predict_proba(self, X: Texts) -> np.ndarray:
        self._check_fitted()
        return self.proba_from_embeddings(self.embed(check_texts(X)))

    def base_proba(self, X: Texts) -> np.ndarray:
        """Zero-shot probabilities from similarity to the class texts (``label_texts``); without
        them, nearest-class-centroid probabilities on the same embeddings."""
        self._check_fitted()
        base = self.zero_shot_ if getattr(self, "zero_shot_", None) is not None else self.prototypes_
        return base.predict_proba(self.embed(check_texts(X)))
