"""One JSON codec for the project database and cache keys (orjson: fast, compact, UTF-8).

Cache keys hash this serialisation, so it must not vary between installs: orjson is a core
dependency, never an optional speed-up.
"""
from __future__ import annotations

from typing import Any

import orjson

loads = orjson.loads
dumpb = orjson.dumps  # the same serialisation as ``dumps``, as UTF-8 bytes (what keys hash)


def dumps(x: Any) -> str:
    return orjson.dumps(x).decode("utf-8")


def dumps_sorted(x: Any) -> str:
    return orjson.dumps(x, option=orjson.OPT_SORT_KEYS).decode("utf-8")
