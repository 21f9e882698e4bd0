"""Few-shot examples from labeled items: fixed, random, or nearest neighbours by embedding,
optionally label-balanced. The item itself (same id or same text) is never its own example."""
from __future__ import annotations

import random
import zlib
from typing import Callable, Sequence

import numpy as np

from .data.readers import field_text
from .models.encoder import Encoder, encode_cached
from .types import Record

ExamplesFor = Callable[[Record], Sequence[Record]]


def record_text(r: Record, fields: Sequence[str]) -> str:
    """The text an encoder sees for a record (token lists joined by spaces, pairs by [SEP])."""
    return " [SEP] ".join(field_text(r.fields[f]) for f in fields)


def _label_key(gold: object) -> str:
    return "|".join(gold) if isinstance(gold, tuple) else str(gold)


def balanced_pick(ranked: Sequence[int], labels: Sequence[str], k: int) -> list[int]:
    """Take from ``ranked`` (best first) round-robin over labels, so each label gets its share."""
    by_label: dict[str, list[int]] = {}
    for i in ranked:
        by_label.setdefault(labels[i], []).append(i)
    out: list[int] = []
    queues = list(by_label.values())
    while len(out) < k and any(queues):
        for q in queues:
            if q and len(out) < k:
                out.append(q.pop(0))
    return out


class FewShot:
    """Builds the per-record example chooser for a few-shot mode."""

    def __init__(self, mode: str, pool: Sequence[Record], fields: Sequence[str], k: int = 4,
                 balanced: bool = True, seed: int = 0, encoder: Encoder | None = None, store: object = None,
                 label_key: Callable[[object], str] | None = None) -> None:
        """``label_key`` groups examples for balancing (default: the label itself; NER groups
        sentences by the entity types they contain)."""
        self.mode, self.k, self.balanced, self.seed = mode, k, balanced, seed
        self.pool = [r for r in pool if r.gold is not None]
        self.fields = tuple(fields)
        self.labels = [(label_key or _label_key)(r.gold) for r in self.pool]
        self.texts = [record_text(r, fields) for r in self.pool]
        self._encoder, self._store = encoder or Encoder(), store
        self._vectors: np.ndarray | None = None

    def _choose(self, ranked: Sequence[int]) -> list[Record]:
        idx = balanced_pick(ranked, self.labels, self.k) if self.balanced else list(ranked[: self.k])
        return [self.pool[i] for i in idx]

    def fixed(self) -> list[Record]:
        """The examples a fixed mode uses (also the calibration context)."""
        if self.mode == "fixed":
            return self._choose(range(len(self.pool)))
        return []

    def _allowed(self, r: Record) -> list[int]:
        text = record_text(r, self.fields)
        return [i for i, p in enumerate(self.pool) if p.id != r.id and self.texts[i] != text]

    def for_record(self, r: Record) -> list[Record]:
        if self.mode == "none" or self.k == 0 or not self.pool:
            return []
        if self.mode == "fixed":
            return self.fixed()
        allowed = self._allowed(r)
        if self.mode == "random":
            rng = random.Random(self.seed * 1_000_003 + zlib.crc32(r.id.encode()))
            rng.shuffle(allowed)
            return self._choose(allowed)
        if self._vectors is None:
            self._vectors = encode_cached(self._encoder, self.texts, self._store)
        q = encode_cached(self._encoder, [record_text(r, self.fields)], self._store)[0]
        sims = self._vectors[allowed] @ q
        ranked = [allowed[i] for i in np.argsort(-sims, kind="stable")]
        chosen = self._choose(ranked)
        return chosen[::-1]  # most similar last, nearest to the question
