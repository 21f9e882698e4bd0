""""pair": a bi-encoder for sentence pairs whose score is the cosine similarity of the two texts.

all-MiniLM-L6-v2 is fine-tuned on the labeled pairs with a cosine-similarity objective (squared
error between cos(u, v) and 1/0 for positive/other); a 1-D logistic calibration fitted on the
training pairs maps cosine to P(positive). Its *base* model is the un-fine-tuned encoder with the
same kind of calibration fitted on the same pairs: both sides are calibrated on equal terms, so
|fine-tuned - base| reflects what fine-tuning moved, not that one side is uncalibrated.
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from ..errors import ConfigError
from .base import SmallModelMixin, Texts, check_texts, register_small_model
from .encoder import DEFAULT_ENCODER, Encoder
from .finetuned import encode_with, fine_tune, forward_embed, trainable_copy


def _calibrate(sim: np.ndarray, y: np.ndarray, C: float) -> tuple[float, float]:
    """(slope, intercept) of P(positive) = sigmoid(slope * sim + intercept); constant if one class."""
    if y.min() == y.max():
        return 0.0, 20.0 if y[0] else -20.0
    from sklearn.linear_model import LogisticRegression
    lr = LogisticRegression(C=C, max_iter=1000).fit(sim[:, None], y.astype(int))
    return float(lr.coef_[0, 0]), float(lr.intercept_[0])


@register_small_model("pair")
class PairModel(SmallModelMixin):
    """Inputs are ``(text_a, text_b)`` pairs; labels are ``positive_label`` or one other label
    (``negative_label``, or whichever other label the training data uses)."""

    def __init__(self, positive_label: str = "yes", negative_label: str | None = None, epochs: int = 3,
                 batch_size: int = 16, lr: float = 2e-5, max_length: int = 128, C: float = 100.0,
                 freeze_embeddings: bool = True, seed: int = 0,
                 encoder: str | Encoder = DEFAULT_ENCODER, store: Any = None) -> None:
        self.positive_label = positive_label
        self.negative_label = negative_label
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.max_length = max_length
        self.C = C
        self.freeze_embeddings = freeze_embeddings
        self.seed = seed
        self.encoder = encoder
        self.store = store

    def _classes(self, labels: list[str]) -> np.ndarray:
        pos = str(self.positive_label)
        others = set(labels) - {pos}
        if self.negative_label is not None:
            others |= {str(self.negative_label)}
        if len(others) > 1:
            raise ConfigError(f"the pair model takes two labels, positive_label='{pos}' and one other; the labels "
                              f"are {sorted(set(labels))} -- set positive_label (and negative_label)", field="model")
        return np.array(sorted({pos} | others), dtype=object)  # one class only if every label is positive

    def fit(self, X: Texts, labels: Sequence[str]) -> "PairModel":
        pairs = check_texts(X, pairs=True)
        labs = [str(lab) for lab in labels]
        if len(labs) != len(pairs) or not pairs:
            raise ValueError(f"fit needs one label per pair and at least one pair; got {len(pairs)}, {len(labs)}")
        classes = self._classes(labs)
        y = np.array([lab == str(self.positive_label) for lab in labs])
        self.base_calibration_ = _calibrate(self._base_cos(pairs), y, self.C)
        # both kinds present: otherwise the objective is degenerate
        self.model_ = self._fine_tune_cosine(pairs, y.astype(float)) if y.min() != y.max() else None
        self.classes_ = classes
        self.calibration_ = _calibrate(self.similarity(pairs), y, self.C) if self.model_ is not None \
            else self.base_calibration_
        return self

    def _fine_tune_cosine(self, pairs: list[tuple[str, str]], target: np.ndarray) -> Any:
        """A trainable copy of the encoder fine-tuned so that cos(a, b) approaches ``target``
        (squared error) for each pair."""
        import torch
        st = trainable_copy(self.encoder, self.max_length, self.freeze_embeddings)
        goal = torch.as_tensor(target, dtype=torch.float32)

        def loss_fn(idx: list[int]) -> Any:
            emb = forward_embed(st, [pairs[i][0] for i in idx] + [pairs[i][1] for i in idx])
            cos = (emb[:len(idx)] * emb[len(idx):]).sum(dim=-1)
            return torch.nn.functional.mse_loss(cos, goal[idx])

        fine_tune(st, [], len(pairs), loss_fn, epochs=self.epochs, batch_size=self.batch_size,
                  lr=self.lr, head_lr=0.0, seed=self.seed)
        return st

    def similarity(self, X: Texts) -> np.ndarray:
        """Cosine similarity under the fine-tuned encoder (the un-fine-tuned one if none was trained)."""
        self._check_fitted()
        pairs = check_texts(X, pairs=True)
        if self.model_ is None:
            return self.base_similarity(pairs)
        emb = encode_with(self.model_, [a for a, _ in pairs] + [b for _, b in pairs], self.batch_size)
        return (emb[:len(pairs)] * emb[len(pairs):]).sum(axis=1).astype(np.float64)

    def base_similarity(self, X: Texts) -> np.ndarray:
        """Cosine similarity under the un-fine-tuned encoder (embeddings cached in the store)."""
        self._check_fitted()
        return self._base_cos(check_texts(X, pairs=True))

    def _base_cos(self, pairs: list[tuple[str, str]]) -> np.ndarray:
        emb = self.embed([a for a, _ in pairs] + [b for _, b in pairs])
        return (emb[:len(pairs)] * emb[len(pairs):]).sum(axis=1).astype(np.float64)

    def embed(self, texts: Any) -> np.ndarray:
        """Strings: un-fine-tuned embeddings (cached). Pairs: both texts' embeddings side by side,
        so diversity sampling over a pool of pairs works on the same inputs as predict_proba."""
        items = list(texts)
        if items and not isinstance(items[0], str):
            pairs = check_texts(items, pairs=True)
            emb = super().embed([a for a, _ in pairs] + [b for _, b in pairs])
            return np.hstack([emb[:len(pairs)], emb[len(pairs):]])
        return super().embed(items)

    def _to_proba(self, sim: np.ndarray, calibration: tuple[float, float]) -> np.ndarray:
        if len(self.classes_) == 1:
            return np.ones((len(sim), 1))
        slope, intercept = calibration
        p = 1.0 / (1.0 + np.exp(-(slope * sim + intercept)))
        out = np.empty((len(sim), 2))
        pos = int(np.flatnonzero(self.classes_ == str(self.positive_label))[0])
        out[:, pos], out[:, 1 - pos] = p, 1.0 - p
        return out

    def predict_proba(self, X: Texts) -> np.ndarray:
        return self._to_proba(self.similarity(X), self.calibration_)

    def base_proba(self, X: Texts) -> np.ndarray:
        """The un-fine-tuned encoder's cosine through its own calibration on the training pairs."""
        return self._to_proba(self.base_similarity(X), self.base_calibration_)
