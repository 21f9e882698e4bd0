"""Content-addressed response cache keys: the full SHA-256 of everything that shapes an answer."""
from __future__ import annotations

import hashlib
from typing import Any, Mapping

from ..jsonutil import dumps, dumps_sorted
from ..types import Query


def identity_json(identity: Mapping[str, Any]) -> str:
    """The canonical text of an annotator identity (compute once per run, reuse per key)."""
    return dumps_sorted(identity)


def cache_key(identity: Mapping[str, Any] | str, query: Query) -> str:
    """Key over (backend, model, parameters, rendered query). Nothing is dropped or truncated,
    so two different requests can only share a key through a SHA-256 collision.
    ``Query.as_json`` has a fixed field order, so the query needs no key sorting."""
    ident = identity if isinstance(identity, str) else identity_json(identity)
    blob = '{"annotator":' + ident + ',"query":' + dumps(query.as_json()) + "}"
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()
