""""ranker": a bi-encoder for (query, document) pairs, fine-tuned on graded relevance labels.

all-MiniLM-L6-v2 is fine-tuned so that cos(query, document) approaches grade / max grade
(squared error); a multinomial logistic calibration fitted on the training pairs maps the
cosine to a distribution over the grades, whose expected grade ranks a query's documents. Its
*base* model is the un-fine-tuned encoder (plain cosine, the usual zero-shot dense retriever)
with the same kind of calibration on the same pairs, so conditional informativeness,
|fine-tuned - base|, measures what fine-tuning moved, as in Bansal & Sharma (2023).
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from .base import register_small_model
from .pair import PairModel


class _GradeCalibration:
    """cosine -> P(grade), a multinomial logistic regression on one feature (one class: constant)."""

    def __init__(self, sim: np.ndarray, grades: np.ndarray, classes: np.ndarray, C: float) -> None:
        self.classes = classes
        self.seen = np.unique(grades)
        self.lr = None
        if len(self.seen) > 1:
            from sklearn.linear_model import LogisticRegression
            self.lr = LogisticRegression(C=C, max_iter=2000).fit(sim[:, None], grades)

    def proba(self, sim: np.ndarray) -> np.ndarray:
        out = np.zeros((len(sim), len(self.classes)))
        col = {c: j for j, c in enumerate(self.classes)}
        if self.lr is None:
            out[:, col[self.seen[0]]] = 1.0
            return out
        p = self.lr.predict_proba(sim[:, None])
        for j, c in enumerate(self.lr.classes_):
            out[:, col[c]] = p[:, j]
        return out


@register_small_model("ranker")
class RankerModel(PairModel):
    """Inputs are ``(query, document)`` pairs; labels are grades ("0".."3", or any integers)."""

    def __init__(self, epochs: int = 3, batch_size: int = 16, lr: float = 2e-5, max_length: int = 192,
                 C: float = 100.0, freeze_embeddings: bool = True, seed: int = 0, encoder: Any = None,
                 store: Any = None) -> None:
        from .encoder import DEFAULT_ENCODER
        super().__init__(positive_label="", epochs=epochs, batch_size=batch_size, lr=lr, max_length=max_length, C=C,
                         freeze_embeddings=freeze_embeddings, seed=seed, encoder=encoder or DEFAULT_ENCODER,
                         store=store)

    def fit(self, X: Any, labels: Sequence[Any]) -> "RankerModel":
        from .base import check_texts
        pairs = check_texts(X, pairs=True)
        grades = np.array([int(float(str(g))) for g in labels])
        if len(grades) != len(pairs) or not pairs:
            raise ValueError(f"fit needs one grade per pair and at least one pair; got {len(pairs)}, {len(grades)}")
        top = max(3, int(grades.max()))
        self.classes_ = np.array([str(g) for g in range(top, -1, -1)], dtype=object)  # schema order: best first
        y = grades.astype(str)
        self.base_calibration_ = _GradeCalibration(self._base_cos(pairs), y, self.classes_, self.C)
        self.model_ = self._fine_tune_cosine(pairs, grades / top) if grades.min() != grades.max() else None
        self.calibration_ = _GradeCalibration(self.similarity(pairs), y, self.classes_, self.C) \
            if self.model_ is not None else self.base_calibration_
        return self

    def _to_proba(self, sim: np.ndarray, calibration: Any) -> np.ndarray:  # type: ignore[override]
        return calibration.proba(sim)

    def score(self, X: Any) -> np.ndarray:
        """The expected grade of each pair under the fine-tuned model (what ranks documents)."""
        p = self.predict_proba(X)
        return p @ np.array([float(c) for c in self.classes_])

    def base_score(self, X: Any) -> np.ndarray:
        """The un-fine-tuned encoder's plain cosine: the zero-shot dense retriever's ranking score."""
        return self.base_similarity(X)
