""""logreg": encoder embeddings + logistic regression -- the default small model (seconds to fit).

Its *base* model is a nearest-class-centroid (prototype) classifier on the same un-fine-tuned
embeddings and the same labels: what the pretrained space says with no decision boundary learned.
The encoder is never fine-tuned here, so the only thing "training" adds over the base is the
discriminative weighting of embedding dimensions; |logreg - prototype| is where that weighting
changes the answer -- the honest analogue of |fine-tuned - base| for a frozen encoder.
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

    def predict_proba(self, E: np.ndarray) -> np.ndarray:
        return _softmax(self.scale_ * (E @ self.centroids_.T))


@register_small_model("logreg")
class LogRegModel(SmallModelMixin):
    """Frozen encoder embeddings (computed once, cached in the store) + scikit-learn
    ``LogisticRegression``. A training set with one class predicts that class with probability 1."""

    def __init__(self, C: float = 1.0, max_iter: int = 1000, class_weight: Any = None, seed: int = 0,
                 encoder: str | Encoder = DEFAULT_ENCODER, store: Any = None) -> None:
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
        """Nearest-class-centroid probabilities on the same (un-fine-tuned) embeddings."""
        self._check_fitted()
        return self.prototypes_.predict_proba(self.embed(check_texts(X)))
