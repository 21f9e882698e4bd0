"""Align the entity mentions an LLM wrote back to the sentence's tokens.

The model answers with mention texts, not token offsets, so each mention is looked up in the
sentence. Matching ignores whitespace (``"New York"`` matches the tokens ``New`` ``York``,
``"U.S."`` matches ``U.S`` ``.``) and must start and end on token boundaries. The rules are
fixed, never a guess:

- exact text first; if it is nowhere, a case-insensitive match;
- a mention listed once whose text occurs several times labels every occurrence (one surface
  form, one type, in one sentence: the same entity); listed k times, it labels the first k
  occurrences;
- a mention that is not in the sentence, an empty mention, an unknown type, two types for the
  same words, or two overlapping mentions raise :class:`ParseError` -- the caller stores the
  item as an error with the raw answer.
"""
from __future__ import annotations

import re
from typing import Sequence

from ..errors import ParseError
from .bio import Span

Mention = tuple[str, str]  # (text as the model wrote it, entity type)

_WS = re.compile(r"\s+")


def _compact(s: str) -> str:
    return _WS.sub("", s)


def _occurrences(tokens: Sequence[str], needle: str, fold: bool) -> list[tuple[int, int]]:
    """(start, end) token ranges whose concatenation equals ``needle`` (whitespace removed)."""
    toks = [_compact(t).casefold() if fold else _compact(t) for t in tokens]
    target = needle.casefold() if fold else needle
    found = []
    for i in range(len(toks)):
        if not toks[i] or not target.startswith(toks[i]):
            continue
        acc, j = "", i
        while j < len(toks) and len(acc) < len(target):
            acc += toks[j]
            j += 1
        if acc == target:
            found.append((i, j))
    return found


def resolve_type(name: str, types: Sequence[str]) -> str:
    """The schema's spelling of an entity type (case-insensitive), or ParseError."""
    for t in types:
        if name == t or name.strip().casefold() == t.casefold():
            return t
    raise ParseError(f"unknown entity type {name!r}; the schema has {list(types)}")


def align(tokens: Sequence[str], mentions: Sequence[Mention], types: Sequence[str]) -> list[Span]:
    """Token spans (start, end, type) for the mentions, sorted; ParseError on any conflict."""
    listed: dict[tuple[str, str], int] = {}
    order: list[tuple[str, str]] = []
    for text, typ in mentions:
        key = (_compact(text), resolve_type(typ, types))
        if not key[0]:
            raise ParseError("an entity with empty text")
        if key not in listed:
            order.append(key)
        listed[key] = listed.get(key, 0) + 1
    spans: dict[tuple[int, int], str] = {}
    for needle, typ in order:
        occ = _occurrences(tokens, needle, fold=False) or _occurrences(tokens, needle, fold=True)
        if not occ:
            raise ParseError(f"entity {needle!r} ({typ}) is not in the sentence")
        n = listed[(needle, typ)]
        for start, end in (occ if n == 1 or n > len(occ) else occ[:n]):
            if spans.get((start, end), typ) != typ:
                raise ParseError(f"the words {' '.join(tokens[start:end])!r} are given two types: "
                                 f"{spans[(start, end)]} and {typ}")
            spans[(start, end)] = typ
    out = sorted((s, e, t) for (s, e), t in spans.items())
    for a, b in zip(out, out[1:]):
        if b[0] < a[1]:
            raise ParseError(f"overlapping entities {' '.join(tokens[a[0]:a[1]])!r} ({a[2]}) and "
                             f"{' '.join(tokens[b[0]:b[1]])!r} ({b[2]})")
    return out
