""""crf": a linear-chain CRF (python-crfsuite) over hand-made, language-agnostic token features --
the default NER tagger: trains in well under a second on a few hundred sentences, needs no encoder
and no GPU, and gives exact per-token marginals for the uncertainty strategies.

Also home of :class:`TaggerMixin`, the contract every token tagger shares (X = token lists,
y = tag lists, ``tags_`` sorted and always holding "O"). crfsuite is imported on first use.
"""
from __future__ import annotations

import math
import os
import tempfile
import unicodedata
from typing import Any, Sequence

import numpy as np

from .base import SmallModelMixin, register_small_model
from .encoder import DEFAULT_ENCODER, Encoder

Sentences = Sequence[Sequence[str]]
OUTSIDE = "O"


def check_sentences(X: Any) -> list[tuple[str, ...]]:
    """The sentences as tuples of tokens; a clear error when plain strings come instead."""
    if isinstance(X, str):
        raise TypeError("a tagger takes a list of token lists; got one string")
    out = []
    for i, sent in enumerate(X):
        if isinstance(sent, str) or not all(isinstance(t, str) for t in sent):
            raise TypeError(f"sentence {i}: a tagger takes a list of token lists (of strings); got {sent!r:.80}")
        out.append(tuple(sent))
    return out


def check_tags(X: list[tuple[str, ...]], y: Any) -> list[tuple[str, ...]]:
    """One tag per token, at least one sentence; the error names the first sentence that differs."""
    tags = [(t,) if isinstance(t, str) else tuple(str(x) for x in t) for t in y]
    if len(tags) != len(X) or not X:
        raise ValueError(f"fit needs one tag list per sentence and at least one sentence; "
                         f"got {len(X)} sentences, {len(tags)} tag lists")
    for i, (toks, tg) in enumerate(zip(X, tags)):
        if len(toks) != len(tg):
            raise ValueError(f"sentence {i} has {len(toks)} tokens but {len(tg)} tags")
    return tags


class TaggerMixin(SmallModelMixin):
    """Shared by the token taggers: tag bookkeeping, token-list embeddings, argmax prediction."""

    tags_: list[str]

    def _set_tags(self, y: list[tuple[str, ...]]) -> list[str]:
        self.tags_ = sorted({t for tags in y for t in tags} | {OUTSIDE})
        self.classes_ = np.array(self.tags_, dtype=object)  # what the mixin's _check_fitted looks at
        return self.tags_

    def embed(self, texts: Sequence[Any]) -> np.ndarray:
        """Sentence embeddings of the joined tokens: the diversity strategies work per sentence."""
        return super().embed([t if isinstance(t, str) else " ".join(t) for t in texts])

    def token_marginals(self, X: Sentences) -> list[np.ndarray]:
        raise NotImplementedError

    def predict(self, X: Sentences) -> list[tuple[str, ...]]:  # type: ignore[override]
        """Per-token argmax of the marginals (the CRF overrides this with Viterbi)."""
        return [tuple(self.tags_[j] for j in m.argmax(axis=1)) for m in self.token_marginals(X)]

    def predict_proba(self, X: Any) -> np.ndarray:
        raise NotImplementedError(f"{type(self).__name__} tags tokens: use token_marginals(X)")


def _shape(word: str) -> str:
    """'McDonald2' -> 'XxXxd': case/digit pattern with runs collapsed, any script."""
    out: list[str] = []
    for ch in word:
        c = "X" if ch.isupper() else "x" if ch.islower() else "d" if ch.isdigit() else ch
        if not out or out[-1] != c:
            out.append(c)
    return "".join(out)


def _is_punct(word: str) -> bool:
    return bool(word) and all(unicodedata.category(ch)[0] in "PS" for ch in word)


def _word_features(word: str, prefix: str, full: bool) -> dict[str, Any]:
    low = word.lower()
    f: dict[str, Any] = {f"{prefix}w": low, f"{prefix}shape": _shape(word)}
    flags = {"title": word.istitle(), "upper": word.isupper(), "digit": word.isdigit(), "punct": _is_punct(word)}
    f.update({f"{prefix}{k}": 1.0 for k, v in flags.items() if v})
    if full:
        for k in (1, 2, 3):
            if len(low) >= k:
                f[f"{prefix}p{k}"], f[f"{prefix}s{k}"] = low[:k], low[-k:]
    return f


def sentence_features(tokens: Sequence[str]) -> list[dict[str, Any]]:
    """Per-token features: the word itself (lowercase, affixes 1-3, shape, flags), its +-1/+-2
    neighbours' word/shape/flags, and BOS/EOS markers. No lexicon, no language-specific rules."""
    n = len(tokens)
    feats = []
    for i, word in enumerate(tokens):
        f = {"bias": 1.0, **_word_features(word, "", True)}
        for off in (-2, -1, 1, 2):
            if 0 <= i + off < n:
                f.update(_word_features(tokens[i + off], f"{off:+d}:", False))
        if i == 0:
            f["BOS"] = 1.0
        if i == n - 1:
            f["EOS"] = 1.0
        feats.append(f)
    return feats


@register_small_model("crf")
class CRFTagger(TaggerMixin):
    """L-BFGS-trained CRF with elastic-net penalties ``c1`` (L1) and ``c2`` (L2). Training is
    deterministic, so ``seed`` is kept only for the common small-model signature. The trained
    model is kept as bytes (picklable); crfsuite's trainer must write a file, which lives in a
    temporary directory that is always removed."""

    def __init__(self, c1: float = 0.1, c2: float = 0.01, max_iterations: int = 200, seed: int = 0,
                 encoder: str | Encoder = DEFAULT_ENCODER, store: Any = None) -> None:
        self.c1 = c1
        self.c2 = c2
        self.max_iterations = max_iterations
        self.seed = seed
        self.encoder = encoder
        self.store = store

    def fit(self, X: Sentences, y: Sequence[Sequence[str]]) -> "CRFTagger":
        sents = check_sentences(X)
        tags = check_tags(sents, y)
        self._tagger = None
        self.model_bytes_: bytes | None = None
        if len(self._set_tags(tags)) > 1:  # one tag: nothing to learn, it is the answer everywhere
            import pycrfsuite
            trainer = pycrfsuite.Trainer(verbose=False)
            for toks, tg in zip(sents, tags):
                if toks:
                    trainer.append(sentence_features(toks), list(tg))
            trainer.set_params({"c1": self.c1, "c2": self.c2, "max_iterations": self.max_iterations,
                                "feature.possible_transitions": True})
            with tempfile.TemporaryDirectory(prefix="labelwise-crf-") as tmp:
                path = os.path.join(tmp, "model.crfsuite")
                trainer.train(path)
                with open(path, "rb") as fh:
                    self.model_bytes_ = fh.read()
        return self

    def _get_tagger(self) -> Any:
        self._check_fitted()
        if self.model_bytes_ is None:
            return None
        if getattr(self, "_tagger", None) is None:
            import pycrfsuite
            self._tagger = pycrfsuite.Tagger()
            self._tagger.open_inmemory(self.model_bytes_)
        return self._tagger

    def __getstate__(self) -> dict[str, Any]:  # the crfsuite Tagger cannot be pickled; it reopens lazily
        return {k: v for k, v in self.__dict__.items() if k != "_tagger"}

    def predict(self, X: Sentences) -> list[tuple[str, ...]]:  # type: ignore[override]
        """The most probable tag sequence per sentence (Viterbi)."""
        tagger, sents = self._get_tagger(), check_sentences(X)
        if tagger is None:
            return [tuple(self.tags_[0] for _ in s) for s in sents]
        return [tuple(tagger.tag(sentence_features(s))) if s else () for s in sents]

    def token_marginals(self, X: Sentences) -> list[np.ndarray]:
        """Per sentence an ``(n_tokens, len(tags_))`` array of P(tag at t | sentence)."""
        tagger, sents, k = self._get_tagger(), check_sentences(X), len(self.tags_)
        if tagger is None:
            return [np.ones((len(s), k)) for s in sents]
        labels = set(tagger.labels())
        known = [(j, tag) for j, tag in enumerate(self.tags_) if tag in labels]
        out = []
        for s in sents:
            m = np.zeros((len(s), k))
            if s:
                tagger.set(sentence_features(s))
                for t in range(len(s)):
                    for j, tag in known:
                        m[t, j] = tagger.marginal(tag, t)
                m /= m.sum(axis=1, keepdims=True)  # exact up to float rounding; make rows sum to 1
            out.append(m)
        return out

    def sequence_logprob(self, X: Sentences) -> np.ndarray:
        """log P(Viterbi path | sentence) per sentence; 0 for an empty sentence or a one-tag model."""
        tagger, sents = self._get_tagger(), check_sentences(X)
        out = np.zeros(len(sents))
        if tagger is None:
            return out
        for i, s in enumerate(sents):
            if s:
                tagger.set(sentence_features(s))
                out[i] = math.log(max(tagger.probability(tagger.tag()), np.finfo(float).tiny))
        return out
