"""The small-model contract, a shared mixin and the registry of small models by name.

Small models are scikit-learn-style estimators: the constructor only stores its parameters (no
I/O, no model loading), ``fit`` learns attributes whose names end in ``_``, ``clone`` gives an
unfitted copy. Every model also reports its *base* model's probabilities for the same inputs
(``base_proba``), so the loop can fill ``PoolState.base_score`` next to ``finetuned_score`` and
conditional informativeness, |fine-tuned - base|, measures what training on the labels changed.
Nothing heavy (torch, scikit-learn, sentence-transformers) is imported here.
"""
from __future__ import annotations

import inspect
from typing import Any, Protocol, Sequence, Union, runtime_checkable

import numpy as np

from ..errors import ConfigError
from ..registry import Registry
from .encoder import DEFAULT_ENCODER, Encoder, encode_cached

Texts = Union[Sequence[str], Sequence[tuple[str, str]]]


@runtime_checkable
class SmallModel(Protocol):
    """What the loop needs from a small model. After ``fit`` a model has ``classes_`` (sorted
    label names); ``predict_proba`` and ``base_proba`` return ``(n, len(classes_))`` rows that
    sum to 1, columns in ``classes_`` order."""

    def fit(self, X: Texts, labels: Sequence[str]) -> "SmallModel": ...

    def predict_proba(self, X: Texts) -> np.ndarray: ...

    def predict(self, X: Texts) -> np.ndarray: ...

    def base_proba(self, X: Texts) -> np.ndarray: ...

    def embed(self, texts: Sequence[str]) -> np.ndarray: ...

    def get_params(self, deep: bool = True) -> dict[str, Any]: ...

    def clone(self) -> "SmallModel": ...


_ENCODERS: dict[str, Encoder] = {}


def shared_encoder(encoder: str | Encoder) -> Encoder:
    """One loaded encoder per name in the process, so clones and refits never reload weights."""
    if isinstance(encoder, Encoder):
        return encoder
    if encoder not in _ENCODERS:
        _ENCODERS[encoder] = Encoder(encoder)
    return _ENCODERS[encoder]


class SmallModelMixin:
    """``get_params``/``set_params``/``clone`` read the constructor's signature (as scikit-learn's
    ``BaseEstimator`` does), plus ``predict`` from ``predict_proba`` and the ``embed`` hook.
    Subclasses take ``encoder`` and ``store`` parameters."""

    encoder: str | Encoder = DEFAULT_ENCODER
    store: Any = None
    classes_: np.ndarray

    @classmethod
    def _param_names(cls) -> list[str]:
        sig = inspect.signature(cls.__init__)
        return [p.name for p in sig.parameters.values() if p.name != "self" and p.kind != p.VAR_KEYWORD]

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self._param_names()}

    def set_params(self, **params: Any) -> "SmallModelMixin":
        valid = self._param_names()
        for key, value in params.items():
            if key not in valid:
                raise ValueError(f"invalid parameter {key!r} for {type(self).__name__}; valid: {', '.join(valid)}")
            setattr(self, key, value)
        return self

    def clone(self) -> Any:
        """Unfitted copy with the same params. The encoder and the store are shared, not copied:
        a database connection cannot be deep-copied and loaded weights need not be."""
        return type(self)(**self.get_params())

    def __sklearn_clone__(self) -> Any:  # lets sklearn.base.clone share store/encoder too
        return self.clone()

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items() if k != "store")
        return f"{type(self).__name__}({args})"

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Un-fine-tuned, unit-length embeddings; cached in the project database when a store is set."""
        texts = list(texts)
        if not texts:  # encode_cached cannot stack zero rows; Encoder.encode knows the shape
            return shared_encoder(self.encoder).encode(texts)
        return encode_cached(shared_encoder(self.encoder), texts, self.store)

    def _check_fitted(self) -> None:
        if not hasattr(self, "classes_"):
            from sklearn.exceptions import NotFittedError
            raise NotFittedError(f"{type(self).__name__} is not fitted yet; call fit(X, labels) first")

    def predict_proba(self, X: Texts) -> np.ndarray:
        raise NotImplementedError

    def predict(self, X: Texts) -> np.ndarray:
        self._check_fitted()
        return self.classes_[np.asarray(self.predict_proba(X)).argmax(axis=1)]


def check_texts(X: Any, pairs: bool = False) -> list[Any]:
    """The inputs as a list; a clear error when texts come where pairs are expected or back."""
    items = list(X)
    for x in items:
        ok = (isinstance(x, (tuple, list)) and len(x) == 2 and all(isinstance(s, str) for s in x)) if pairs \
            else isinstance(x, str)
        if not ok:
            want = "(text, text) pairs" if pairs else "strings"
            raise TypeError(f"this model takes a list of {want}; got {type(x).__name__}: {x!r:.80}")
    return [tuple(x) for x in items] if pairs else items


def check_labels(X: Sequence[Any], labels: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """(sorted classes, label index per item); one label per input, at least one input."""
    y = np.asarray([str(lab) for lab in labels], dtype=object)
    if len(y) != len(X) or len(y) == 0:
        raise ValueError(f"fit needs one label per input and at least one input; got {len(X)} inputs, {len(y)} labels")
    classes = np.array(sorted(set(y.tolist())), dtype=object)
    return classes, np.searchsorted(classes, y)


# Small-model classes (or factories) by name; see :func:`make_small_model`.
SMALL_MODELS = Registry("small model", field="model")
register_small_model = SMALL_MODELS.register


def make_small_model(name: str, **params: Any) -> SmallModel:
    """An unfitted small model by registered name; a ConfigError lists the names known."""
    from . import crf, finetuned, logreg, pair, ranker, token_classifier  # noqa: F401  (register the built-ins)
    factory = SMALL_MODELS.get_factory(name)
    try:
        return factory(**params)  # type: ignore[return-value]
    except TypeError as err:  # constructors only store params: a TypeError is a bad param name
        raise ConfigError(f"small model '{name}': {err}", field="model") from None
