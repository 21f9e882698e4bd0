"""Which gold items to ask: the most certain ones, where certainty is known.

A gold question is only as good as its answer: an item people disagreed on tests the
annotator against a coin flip. Where the data says how certain each gold label is (a column
such as the share of annotators who agreed, or their number of votes), the watch and `check`
use the most certain items first and can leave out those under a floor; without it, a seeded
random choice. Plain functions; the project reads the column.
"""
from __future__ import annotations

import random
from pathlib import Path
from typing import Mapping, Sequence

from ..data.readers import read_rows
from ..errors import InputError
from ..types import Record


def read_certainty(path: str | Path, records: Sequence[Record], field: str, fmt: str = "auto",
                   required: bool = True) -> dict[str, float]:
    """``field`` of each row of ``path`` as a number, by the id of the record read from that
    row (``records`` in file order, as ``read_records`` returned them). An empty cell is
    unknown (left out); anything else that is not a number is an error naming its place. A
    file without the column is an error when ``required``, else has no certainties."""
    out: dict[str, float] = {}
    for rec, (line, row) in zip(records, read_rows(path, fmt)):
        if field not in row:
            if not required and not out:
                return {}
            raise InputError("missing column (gold.certainty_field)", path=str(path), line=line, field=field)
        raw = row[field]
        if raw is None or str(raw).strip() == "":
            continue
        try:
            out[rec.id] = float(raw)
        except (TypeError, ValueError):
            raise InputError(f"certainty must be a number, got {str(raw)[:40]!r}", path=str(path), line=line,
                             field=field) from None
    return out


def select_gold(gold: Sequence[Record], n: int | None = None, certainty: Mapping[str, float] | None = None,
                min_certainty: float | None = None, seed: int = 0) -> list[Record]:
    """At most ``n`` of ``gold``: with ``certainty``, the most certain first (ties in a seeded
    random order) and none under ``min_certainty`` (nor any whose certainty is unknown);
    without it, a seeded random choice. The result keeps ``gold``'s order."""
    rng = random.Random(seed)
    if certainty:
        keep = [r for r in gold if r.id in certainty and (min_certainty is None or certainty[r.id] >= min_certainty)]
        tie = {r.id: rng.random() for r in keep}
        chosen = sorted(keep, key=lambda r: (-certainty[r.id], tie[r.id]))[:n]
    else:
        chosen = list(gold) if n is None or n >= len(gold) else rng.sample(list(gold), n)
    ids = {r.id for r in chosen}
    return [r for r in gold if r.id in ids]
