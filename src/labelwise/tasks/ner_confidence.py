"""Per-token confidence of an NER answer from the log-probabilities of the generated tokens.

The model writes ``{"entities": [{"text": ..., "type": ...}, ...]}``. For each mention, the
probability that the model wrote *this text with this type* at that point is the product of the
probabilities of the generated pieces that cover the two values (from the opening quote of the
text value to the closing quote of the type value). Every sentence token inside an aligned
span gets the confidence of its mention. Tokens outside every span get the probability of the
pieces that closed the entity list: the model's confidence that there was nothing more to list.
That last figure is an approximation (the model never states "O" per token); it is documented as
such and is the same for every O token of a sentence.

Plain functions over the answer text and its (piece, logprob) pairs; no backend code here.
"""
from __future__ import annotations

import math
import re
from typing import Sequence

import orjson

from .bio import Span
from .ner_align import _compact

TokenLogprobs = Sequence[tuple[str, float]]


def _piece_bounds(text: str, pieces: TokenLogprobs) -> list[tuple[int, int, float]] | None:
    """Character (start, end, logprob) of each generated piece; None when the pieces do not
    spell the answer text (e.g. the backend trimmed it)."""
    out, pos = [], 0
    for piece, lp in pieces:
        out.append((pos, pos + len(piece), float(lp)))
        pos += len(piece)
    joined = "".join(p for p, _ in pieces)
    if joined.strip() != text.strip():
        return None
    lead = len(joined) - len(joined.lstrip())
    text_lead = len(text) - len(text.lstrip())
    shift = text_lead - lead
    return [(s + shift, e + shift, lp) for s, e, lp in out]


def _prob(bounds: list[tuple[int, int, float]], start: int, end: int) -> float:
    """exp(sum of logprobs) of the pieces overlapping [start, end)."""
    return math.exp(sum(lp for s, e, lp in bounds if s < end and e > start))


def _mention_ranges(text: str, mentions: Sequence[tuple[str, str]]) -> list[tuple[int, int]] | None:
    """Where each mention's text and type values sit in the answer, in order of appearance."""
    ranges, pos = [], 0
    for mtext, mtype in mentions:
        # the value as the model may have written it: JSON-escaped, with or without ensure_ascii
        candidates = {orjson.dumps(mtext).decode(), "\"" + mtext + "\""}
        found = [(text.find(c, pos), c) for c in candidates]
        found = [(i, c) for i, c in found if i >= 0]
        if not found:
            return None
        i, c = min(found)
        type_value = orjson.dumps(mtype).decode()
        tpos = text.find(type_value, i + len(c))
        if tpos >= 0:
            start, end = i, tpos + len(type_value)
        else:  # type written before text: take the type value just before
            tpos = text.rfind(type_value, pos, i)
            if tpos < 0:
                return None
            start, end = tpos, i + len(c)
        ranges.append((start, end))
        pos = end
    return ranges


_LIST_END = re.compile(r"\]\s*\}?\s*$")


def token_confidence(tokens: Sequence[str], spans: Sequence[Span], mentions: Sequence[tuple[str, str]],
                     text: str, pieces: TokenLogprobs) -> list[float] | None:
    """Confidence in [0, 1] per sentence token, or None when the answer cannot be traced back to
    its pieces (the caller then stores no confidence rather than a made-up one)."""
    if not pieces:
        return None
    bounds = _piece_bounds(text, pieces)
    ranges = _mention_ranges(text, mentions) if bounds is not None else None
    if bounds is None or ranges is None:
        return None
    mention_conf: dict[tuple[str, str], float] = {}
    for (mtext, mtype), (s, e) in zip(mentions, ranges):
        key = (_compact(mtext).casefold(), mtype.casefold())
        mention_conf[key] = min(mention_conf.get(key, 1.0), _prob(bounds, s, e))
    end = _LIST_END.search(text.rstrip().removesuffix("```").rstrip())
    stop = _prob(bounds, end.start(), end.start() + 1) if end else 1.0
    conf = [stop] * len(tokens)
    for s, e, typ in spans:
        key = (_compact("".join(tokens[s:e])).casefold(), typ.casefold())
        c = mention_conf.get(key)
        if c is None:  # aligned by a case-insensitive match of a differently spelt mention
            c = min((v for (_, ty), v in mention_conf.items() if ty == typ.casefold()), default=stop)
        for i in range(s, e):
            conf[i] = c
    return conf
