"""Few-shot examples from labeled items: fixed, random, or nearest neighbours by embedding (of
the item, or of the centre of the item's cluster of the example pool), optionally
label-balanced. The item itself (same id or same text) is never its own example."""
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
                 label_key: Callable[[object], str] | None = None, order: str = "similar_last",
                 clusters: int = 0) -> None:
        """``label_key`` groups examples for balancing (default: the label itself; NER groups
        sentences by the entity types they contain). ``order`` (nearest): ``similar_last`` puts
        the most similar example next to the question; ``shared_first`` orders each item's
        examples by how central they are in the example pool (see :meth:`centrality_rank`), so items
        that retrieve the same popular examples share a prompt prefix. ``clusters`` (nearest): if
        set, the examples nearest the centre of the item's cluster (see :meth:`centres`) instead
        of the item's own: the items of a cluster get the same examples, so one prompt head."""
        if order not in ("similar_last", "shared_first"):
            raise ValueError(f"unknown example order {order!r}")
        self.mode, self.k, self.balanced, self.seed, self.order = mode, k, balanced, seed, order
        self.clusters = clusters
        self._centres: np.ndarray | None = None
        self.pool = [r for r in pool if r.gold is not None]
        self.fields = tuple(fields)
        self.labels = [(label_key or _label_key)(r.gold) for r in self.pool]
        self.texts = [record_text(r, fields) for r in self.pool]
        self._encoder, self._store = encoder or Encoder(), store
        self._vectors: np.ndarray | None = None
        self._rank: np.ndarray | None = None  # shared_first: each example's place, most central first

    def _pick(self, ranked: Sequence[int]) -> list[int]:
        """The ``k`` pool positions to use from ``ranked`` (best first), label-balanced if asked."""
        return balanced_pick(ranked, self.labels, self.k) if self.balanced else list(ranked[: self.k])

    def _choose(self, ranked: Sequence[int]) -> list[Record]:
        return [self.pool[i] for i in self._pick(ranked)]

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
        q = encode_cached(self._encoder, [record_text(r, self.fields)], self._store)[0]
        if self.clusters:  # the examples nearest the centre of the item's cluster
            centres = self.centres()
            q = centres[int(np.argmax(centres @ q))]
        sims = self.vectors()[allowed] @ q
        ranked = [allowed[i] for i in np.argsort(-sims, kind="stable")]
        idx = self._pick(ranked)
        if self.order == "shared_first":
            rank = self.centrality_rank()
            return [self.pool[i] for i in sorted(idx, key=lambda i: rank[i])]
        return [self.pool[i] for i in idx][::-1]  # most similar last, nearest to the question

    def vectors(self) -> np.ndarray:
        if self._vectors is None:
            self._vectors = encode_cached(self._encoder, self.texts, self._store)
        return self._vectors

    def centrality_rank(self, rows: int = 2048) -> np.ndarray:
        """Each example's place when the pool is ordered by how often the example is among the
        ``k`` nearest of the other examples (ties: pool order) -- a property of the pool alone,
        so an item's prompt never depends on which other items are labeled with it, and the
        examples many items retrieve come first in every prompt that has them."""
        if self._rank is None:
            v = self.vectors()
            n, k = v.shape[0], min(self.k, max(v.shape[0] - 1, 0))
            hits = np.zeros(n, dtype=np.int64)
            for start in range(0, n, rows) if k else ():
                sims = v[start:start + rows] @ v.T
                sims[np.arange(sims.shape[0]), np.arange(start, start + sims.shape[0])] = -np.inf  # not itself
                top = np.argpartition(-sims, k - 1, axis=1)[:, :k]
                np.add.at(hits, top.ravel(), 1)
            order = np.lexsort((np.arange(n), -hits))
            self._rank = np.empty(n, dtype=np.int64)
            self._rank[order] = np.arange(n)
        return self._rank

    def centres(self, iterations: int = 50) -> np.ndarray:
        """Unit-length centres of ``clusters`` clusters of the example pool's embeddings:
        spherical k-means (cosine), seeded by ``seed`` with k-means++ -- a property of the pool
        alone, so an item's examples never depend on which other items are labeled with it."""
        if self._centres is None:
            self._centres = spherical_kmeans(self.vectors(), min(self.clusters, len(self.pool)), self.seed, iterations)
        return self._centres


def spherical_kmeans(v: np.ndarray, n: int, seed: int = 0, iterations: int = 50) -> np.ndarray:
    """``n`` unit-length centres of the unit rows of ``v`` (k-means on cosine similarity,
    k-means++ start from ``seed``); a cluster left empty keeps its previous centre."""
    rng = np.random.default_rng(seed)
    v = np.asarray(v, dtype=np.float64)
    centres = [v[int(rng.integers(len(v)))]]
    far = 1.0 - v @ centres[0]
    for _ in range(1, n):
        w = np.clip(far, 0, None) ** 2
        i = int(rng.choice(len(v), p=w / w.sum())) if w.sum() > 0 else int(rng.integers(len(v)))
        centres.append(v[i])
        far = np.minimum(far, 1.0 - v @ v[i])
    c = np.stack(centres)
    assign = None
    for _ in range(iterations):
        new = np.argmax(v @ c.T, axis=1)
        if assign is not None and np.array_equal(new, assign):
            break
        assign = new
        for j in range(n):
            members = v[assign == j]
            if len(members):
                m = members.sum(axis=0)
                c[j] = m / (np.linalg.norm(m) or 1.0)
    return c.astype(np.float32)
