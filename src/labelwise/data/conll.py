"""Read CoNLL / IOB files (one token per line, blank line between sentences) as sentence rows.

The token is the first column and the tag the last, so 2-column files and CoNLL-2003's
4-column files (token, POS, chunk, NER) read the same way; a 1-column file is tokens only.
Every token line in a file must have the same number of columns: a ragged line almost always
means a token with a space in it or a missing tag, and guessing which would shift the labels.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Iterator

from ..errors import InputError

_COLUMNS = re.compile(r"[ \t]+")  # only spaces and tabs: a no-break space inside a token stays
DOCSTART = "-DOCSTART-"


def conll_rows(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield (line where the sentence starts, {"tokens": [...], "ner_tags": [...]}) per sentence.

    ``-DOCSTART-`` lines are document separators, not sentences, and are skipped. A file with
    one column yields rows without ``"ner_tags"``.
    """
    from .readers import _decode  # here, not at the top: readers imports this module

    width: tuple[int, int] | None = None  # (columns, line that set it)
    tokens: list[str] = []
    tags: list[str] = []
    start = 0

    def sentence() -> dict[str, Any]:
        return {"tokens": tokens, "ner_tags": tags} if width and width[0] > 1 else {"tokens": tokens}

    # split on "\n" only: str.splitlines would also break at \x1c, \x85, \u2028 inside tokens
    for n, raw in enumerate(_decode(path).split("\n"), start=1):
        line = raw.strip(" \t\r")
        cols = _COLUMNS.split(line)
        if not line.strip() or cols[0] == DOCSTART:
            if tokens:
                yield start, sentence()
                tokens, tags = [], []
            continue
        if width is None:
            width = (len(cols), n)
        elif len(cols) != width[0]:
            raise InputError(f"{len(cols)} columns but line {width[1]} has {width[0]}; every token line needs "
                             "the same columns (a token with a space in it, or a missing tag?)",
                             path=str(path), line=n)
        if not tokens:
            start = n
        tokens.append(cols[0])
        if len(cols) > 1:
            tags.append(cols[-1])
    if tokens:
        yield start, sentence()
