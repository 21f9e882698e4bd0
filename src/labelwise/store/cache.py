"""Content-addressed response cache keys: the full SHA-256 of everything that shapes an answer."""
from __future__ import annotations

import dataclasses
import hashlib
import operator
from typing import Any, Callable, Mapping

from ..jsonutil import dumpb, dumps, dumps_sorted
from ..types import Message, Query


def identity_json(identity: Mapping[str, Any]) -> str:
    """The canonical text of an annotator identity (compute once per run, reuse per key)."""
    return dumps_sorted(identity)


def cache_key(identity: Mapping[str, Any] | str, query: Query) -> str:
    """Key over (backend, model, parameters, rendered query). Nothing is dropped or truncated,
    so two different requests can only share a key through a SHA-256 collision.
    ``Query.as_json`` has a fixed field order, so the query needs no key sorting.

    This is the definition of a key; ``QueryKeys`` computes the same keys faster."""
    ident = identity if isinstance(identity, str) else identity_json(identity)
    blob = '{"annotator":' + ident + ',"query":' + dumps(query.as_json()) + "}"
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


_ROLES = {r: b'{"role":' + dumpb(r) + b',"content":' for r in ("system", "user", "assistant")}
_IMMUTABLE = frozenset({type(None), bool, int, float, str, tuple})


def _message_json(m: Message) -> bytes:
    """``{"role": m.role, "content": m.content}`` exactly as orjson writes it inside the query."""
    role = _ROLES.get(m.role) if type(m.role) is str else None
    return (role or b'{"role":' + dumpb(m.role) + b',"content":') + dumpb(m.content) + b"}"


class QueryKeys:
    """``cache_key(identity, query)`` for the many queries of one run, over the very same bytes.

    orjson writes a dict as its items in order, and a value nested in a dict exactly as it
    writes it alone, so the blob ``cache_key`` hashes can be fed to SHA-256 in pieces: the
    head, the messages one by one, and the *tail* (every field after the messages, exactly as
    ``Query.as_json`` writes them, whatever fields it has). What queries share is kept: the
    hash state after the start of the prompt (system message, few-shot examples) and the
    tail, found by the *identity* of the prefix's Message objects (tasks reuse them) and of
    the other field values (the same choices tuple, ints, None). Each entry holds the objects
    whose ids it is keyed by, so no other object can take those ids while it exists; they are
    immutable, so they serialise the same every time. A new entry's split is checked against
    ``as_json`` itself; a query that cannot be split (a mutable field value such as a schema
    dict, no messages) is keyed by ``cache_key`` directly.
    """

    MAX_ENTRIES = 256  # distinct (prefix, options) kept: per-record few-shot choices can make many

    def __init__(self, identity: Mapping[str, Any] | str) -> None:
        self._ident = identity if isinstance(identity, str) else identity_json(identity)
        self._head = hashlib.sha256(('{"annotator":' + self._ident + ',"query":{"messages":[').encode("utf-8"))
        # per query class: a getter of its fields other than messages, and its entries
        self._kinds: dict[type, tuple[Callable[[Any], tuple[Any, ...]], dict[tuple[int, ...], Any]] | None] = {}

    def __call__(self, query: Query) -> str:
        kind = self._kinds.get(type(query), False)
        if kind is False:
            getter = _other_fields(type(query))
            kind = self._kinds[type(query)] = (getter, {}) if getter else None
        msgs = query.messages
        if kind is None or type(msgs) is not tuple or not msgs:
            return cache_key(self._ident, query)
        values = kind[0](query)
        key = tuple(map(id, msgs[:-1] + values))
        hit = kind[1].get(key)
        if hit is None:
            hit = self._learn(kind[1], key, query, values)
            if hit is None:
                return cache_key(self._ident, query)
        m = msgs[-1]
        role = _ROLES.get(m.role) if type(m.role) is str else None
        h = hit[1].copy()
        h.update((role or b'{"role":' + dumpb(m.role) + b',"content":') + dumpb(m.content) + b"}" + hit[2])
        return h.hexdigest()

    def _learn(self, memo: dict[tuple[int, ...], Any], key: tuple[int, ...], query: Query,
               values: tuple[Any, ...]) -> tuple[Any, Any, bytes] | None:
        """Hash the prefix and cut the tail out of ``as_json``'s own bytes for a new entry."""
        if not all(type(v) in _IMMUTABLE for v in values):  # a dict could change under its id
            return None
        msgs = query.messages
        parts = [_message_json(m) for m in msgs]
        full = dumpb(query.as_json())
        start = b'{"messages":[' + b",".join(parts) + b"]"
        if not full.startswith(start):  # as_json writes messages some other way: no split
            return None
        state = self._head.copy()
        for p in parts[:-1]:
            state.update(p + b",")
        if len(memo) >= self.MAX_ENTRIES:
            memo.clear()
        # holding the query keeps every id in ``key`` taken by the object it was computed from
        entry = memo[key] = (query, state, b"]" + full[len(start):] + b"}")
        return entry


def _other_fields(cls: type) -> Callable[[Any], tuple[Any, ...]] | None:
    """A getter for a query dataclass's fields other than ``messages``, as one tuple."""
    if not dataclasses.is_dataclass(cls):
        return None
    names = [f.name for f in dataclasses.fields(cls) if f.name != "messages"]
    if len(names) == len(dataclasses.fields(cls)):
        return None
    get = operator.attrgetter(*names) if names else (lambda q: ())
    return get if len(names) != 1 else (lambda q: (get(q),))
