"""Content-addressed response cache keys: the full SHA-256 of everything that shapes an answer."""
from __future__ import annotations

import hashlib
import json
from typing import Any, Mapping

from ..types import Query


def cache_key(identity: Mapping[str, Any], query: Query) -> str:
    """Key over (backend, model, parameters, rendered query). Nothing is dropped or truncated,
    so two different requests can only share a key through a SHA-256 collision."""
    blob = json.dumps({"annotator": identity, "query": query.as_json()}, sort_keys=True,
                      ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()
