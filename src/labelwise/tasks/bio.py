"""BIO tags <-> entity spans, pure and strict, so readers, the NER task and metrics agree.

Spans follow the CoNLL ``conlleval`` convention (also seqeval's default mode): ``B-X`` always
starts an entity, and ``I-X`` starts one when it follows ``O`` or a tag of another type, so
IOB1 input and BIO with a missing ``B-`` both decode to the entities a scorer would count.
Only the prefixes ``B-`` and ``I-`` (and the tag ``O``) exist here; anything else is an error
rather than a guess.
"""
from __future__ import annotations

import operator
from typing import Any, Sequence

Span = tuple[int, int, str]  # (start token index, end token index exclusive, entity type)


def _split(tag: object, index: int) -> tuple[str, str]:
    """(prefix, type) of one tag; ("O", "") for outside."""
    if tag == "O":
        return "O", ""
    if isinstance(tag, str) and len(tag) > 2 and tag[0] in "BI" and tag[1] == "-":
        return tag[0], tag[2:]
    raise ValueError(f"tag {index} is {tag!r}; tags must be 'O', 'B-TYPE' or 'I-TYPE'")


def _is_index(value: Any) -> bool:
    """An int or numpy integer, but not a bool (True would silently mean token 1)."""
    if isinstance(value, bool):
        return False
    try:
        operator.index(value)
    except TypeError:
        return False
    return True


def tags_to_spans(tags: Sequence[str]) -> list[Span]:
    """Entities in order of their start; an I- after O or after another type opens a new one."""
    spans: list[Span] = []
    start, current = -1, ""
    for i, tag in enumerate(tags):
        prefix, kind = _split(tag, i)
        if prefix == "I" and start >= 0 and kind == current:
            continue  # the entity goes on
        if start >= 0:
            spans.append((start, i, current))
        start, current = (i, kind) if prefix != "O" else (-1, "")
    if start >= 0:
        spans.append((start, len(tags), current))
    return spans


def spans_to_tags(n_tokens: int, spans: Sequence[Span]) -> tuple[str, ...]:
    """BIO tags for ``n_tokens`` tokens; spans must be non-empty, inside the sentence, disjoint."""
    tags = ["O"] * n_tokens
    spans = list(spans)
    for span in spans:
        try:
            start, end, kind = span
        except (TypeError, ValueError):
            raise ValueError(f"span {span!r} is not (start, end, type)") from None
        if not isinstance(kind, str) or not kind:
            raise ValueError(f"span {span!r} has no entity type")
        if not (_is_index(start) and _is_index(end)):
            raise ValueError(f"span {span!r}: start and end must be integer token indices")
        if not 0 <= start < end <= n_tokens:
            raise ValueError(f"span {span!r} is empty or outside the {n_tokens} tokens")
    ordered = sorted((int(s), int(e), k) for s, e, k in spans)
    for a, b in zip(ordered, ordered[1:]):
        if b[0] < a[1]:
            raise ValueError(f"spans {a!r} and {b!r} overlap")
    for start, end, kind in ordered:  # disjoint, so no tag is written twice
        tags[start] = f"B-{kind}"
        tags[start + 1:end] = [f"I-{kind}"] * (end - start - 1)
    return tuple(tags)


def check_tags(tags: Sequence[str], types: Sequence[str]) -> tuple[str, ...]:
    """The tags as a tuple, or ValueError at the first tag outside the schema ``types``."""
    allowed = set(types)
    for i, tag in enumerate(tags):
        _, kind = _split(tag, i)
        if kind and kind not in allowed:
            raise ValueError(f"tag {i} is {tag!r}; its type '{kind}' is not one of: {', '.join(types)}")
    return tuple(tags)


def entity_types(tags: Sequence[str]) -> set[str]:
    """Types named by any B- or I- tag (whether or not it opens an entity)."""
    return {kind for i, tag in enumerate(tags) for _, kind in [_split(tag, i)] if kind}
