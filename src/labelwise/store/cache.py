"""Content-addressed response cache keys: the full SHA-256 of everything that shapes an answer."""
from __future__ import annotations

import dataclasses
import hashlib
import operator
from typing import Any, Callable, Mapping, Sequence

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


def _messages_json(msgs: Sequence[Message]) -> bytes:
    """The messages exactly as ``Query.as_json`` has them written inside the query: a list."""
    return dumpb([{"role": m.role, "content": m.content} for m in msgs])


class QueryKeys:
    """``cache_key(identity, query)`` for the many queries of one run, over the very same bytes.

    orjson writes a dict as its items in order, and a value nested in a dict exactly as it
    writes it alone, so the blob ``cache_key`` hashes can be fed to SHA-256 in pieces: the
    head, the messages one by one, and the *tail* (every field after the messages, exactly as
    ``Query.as_json`` writes them, whatever fields it has). What queries share is kept:

    - the hash state after the prompt's start (system message, few-shot examples), found by
      the identity of those Message objects where tasks reuse them (an entry holds them, so
      no other object can take their ids while it exists; only messages whose role and
      content are strings, which cannot change, get one), else by their JSON;
    - the tail, found by the JSON of the other field values (choices, max_tokens, schema...),
      which is what the tail is written from; it is cut out of ``as_json``'s own output, and
      that split is checked, the first time.

    A query that cannot be split this way (no messages, not a dataclass) is keyed by
    ``cache_key`` itself.
    """

    MAX_ENTRIES = 256  # per memo; per-record few-shot examples can make many prefixes

    def __init__(self, identity: Mapping[str, Any] | str) -> None:
        self._ident = identity if isinstance(identity, str) else identity_json(identity)
        self._head = hashlib.sha256(('{"annotator":' + self._ident + ',"query":{"messages":[').encode("utf-8"))
        self._prefixes: dict[tuple[int, ...], tuple[tuple[Message, ...], Any]] = {}  # by message ids
        self._states: dict[bytes, Any] = {}  # the same hash states, by the prefix's JSON
        # per query class: a getter of its fields other than messages, and its tails
        self._kinds: dict[type, tuple[Callable[[Any], tuple[Any, ...]], dict[bytes, bytes]] | None] = {}
        self._type: type | None = None  # the class of the last query, and its getter and tails
        self._getter: Callable[[Any], tuple[Any, ...]] = tuple
        self._tails: dict[bytes, bytes] = {}

    def __call__(self, query: Query) -> str:
        msgs = query.messages
        if type(query) is self._type and type(msgs) is tuple and msgs:
            try:
                tail = self._tails.get(dumpb(self._getter(query)))
            except TypeError:  # not JSON (orjson's error is a TypeError): as_json decides below
                tail = None
            if tail is not None:
                prefix = self._prefixes.get(tuple(map(id, msgs[:-1])))
                return _finish(self._state(msgs[:-1]) if prefix is None else prefix[1], msgs[-1], tail)
        return self._miss(query)

    def _miss(self, query: Query) -> str:
        """A query of a new class or with new options: learn its tail, then key it."""
        kind = self._kinds.get(type(query), False)
        if kind is False:
            getter = _other_fields(type(query))
            kind = self._kinds[type(query)] = (getter, {}) if getter else None
        msgs = query.messages
        if kind is None or type(msgs) is not tuple or not msgs:
            return cache_key(self._ident, query)
        getter, tails = kind
        try:
            values = dumpb(getter(query))
        except TypeError:  # a field as_json leaves out is not JSON: nothing to find its tail by
            return cache_key(self._ident, query)
        tail = tails.get(values)
        if tail is None:
            full = dumpb(query.as_json())
            start = b'{"messages":' + _messages_json(msgs)
            if not full.startswith(start):  # as_json writes messages some other way: no split
                return cache_key(self._ident, query)
            tail = _bounded(tails, self.MAX_ENTRIES)[values] = b"]" + full[len(start):] + b"}"
        self._type, self._getter, self._tails = type(query), getter, tails
        prefix = self._prefixes.get(tuple(map(id, msgs[:-1])))
        return _finish(self._state(msgs[:-1]) if prefix is None else prefix[1], msgs[-1], tail)

    def _state(self, prefix: tuple[Message, ...]) -> Any:
        """The hash state after these first messages, found by their JSON (new objects)."""
        blob = _messages_json(prefix)[1:-1] + b"," if prefix else b""
        state = self._states.get(blob)
        if state is None:  # a new prompt start; the next queries may well reuse these objects
            state = self._head.copy()
            state.update(blob)
            _bounded(self._states, self.MAX_ENTRIES)[blob] = state
            if all(type(m.role) is str and type(m.content) is str for m in prefix):
                # holding ``prefix`` keeps its ids taken by these (unchangeable) messages
                _bounded(self._prefixes, self.MAX_ENTRIES)[tuple(map(id, prefix))] = (prefix, state)
        return state


def _bounded(memo: dict[Any, Any], size: int) -> dict[Any, Any]:
    """``memo``, emptied first when full (what a run shares is relearnt at once)."""
    if len(memo) >= size:
        memo.clear()
    return memo


def _finish(state: Any, last: Message, tail: bytes) -> str:
    """The key: the hash state after the prefix, fed the last message and the tail.
    ``{"role": last.role, "content": last.content}`` is written as orjson writes it."""
    role = _ROLES.get(last.role) if type(last.role) is str else None
    h = state.copy()
    h.update((role or b'{"role":' + dumpb(last.role) + b',"content":') + dumpb(last.content) + b"}" + tail)
    return h.hexdigest()


def _other_fields(cls: type) -> Callable[[Any], tuple[Any, ...]] | None:
    """A getter for a query dataclass's fields other than ``messages``, as one tuple."""
    if not dataclasses.is_dataclass(cls):
        return None
    names = [f.name for f in dataclasses.fields(cls) if f.name != "messages"]
    if len(names) == len(dataclasses.fields(cls)):
        return None
    get = operator.attrgetter(*names) if names else (lambda q: ())
    return get if len(names) != 1 else (lambda q: (get(q),))
