"""Write labeled records out: JSONL, CSV or Parquet, one row per record; CoNLL, one token per line.

Every file is written whole or not at all: into a temporary file next to the target, which
replaces the target only once it is complete and on disk. A kill or a full disk mid-export
leaves the previous export as it was.
"""
from __future__ import annotations

import contextlib
import csv
import json
import os
import re
import secrets
from pathlib import Path
from typing import Any, Iterator, Mapping, Sequence

from ..errors import InputError, LabelwiseError
from ..types import Annotation, Record
from .conll import DOCSTART

FORMATS = ("jsonl", "csv", "parquet", "conll", "labelstudio")
_SEPARATOR = re.compile(r"[ \t\r\n]")  # what the CoNLL reader splits columns and lines on


@contextlib.contextmanager
def replacing(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path in ``path``'s folder to write; on success it replaces ``path``.

    Same folder, so ``os.replace`` is an atomic rename. The file is fsynced first: a full disk
    often shows only when the data is flushed, and a rename must not land before the data. An
    ``OSError`` (no space, no permission, ...) becomes a one-line error; the temporary file is
    removed on any failure, so nothing half-written is left or replaces the old file. (A killed
    process cannot remove it: a hidden ``.NAME.*.tmp`` may remain, the target is untouched.)
    """
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        yield tmp
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError as e:
        tmp.unlink(missing_ok=True)
        raise LabelwiseError(f"could not write {path}: {e.strerror or e}; nothing was replaced") from None
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def labeled_rows(records: Sequence[Record], annotations: Sequence[Annotation],
                 routed: Mapping[str, tuple[str, Any, float | None, bool]] | None = None) -> list[dict[str, Any]]:
    """One row per record. With ``routed`` (record_id -> stage, label, confidence, certified, from
    ``labelwise route --run``) the label is the route's, with ``labeled_by`` and ``certified``."""
    by_id = {a.record_id: a for a in annotations}
    rows = []
    for r in records:
        a = by_id.get(r.id)
        if routed is not None:
            stage, label, conf, certified = routed.get(r.id, (None, None, None, False))
            rows.append({"id": r.id, **dict(r.fields), "label": list(label) if isinstance(label, tuple) else label,
                         "confidence": conf, "labeled_by": stage, "certified": certified,
                         "gold": list(r.gold) if isinstance(r.gold, tuple) else r.gold})
            continue
        rows.append({
            "id": r.id, **dict(r.fields),
            "label": (list(a.label) if isinstance(a.label, tuple) else a.label) if a else None,
            "confidence": (max(a.distribution.values()) if a and a.distribution and not isinstance(a.label, tuple)
                           else None),
            "distribution": dict(a.distribution) if a and a.distribution else None,
            "error": a.error if a else None,
            "annotator": a.annotator_id if a else None,
            "gold": list(r.gold) if isinstance(r.gold, tuple) else r.gold,
        })
    return rows


def _conll_cell(value: Any) -> bool:
    """Reads back as the same single cell: text without the separators, not blank, not a doc marker."""
    return isinstance(value, str) and bool(value.strip()) and not _SEPARATOR.search(value) and value != DOCSTART


def write_conll(path: str | Path, rows: Sequence[Mapping[str, Any]], *, tag_field: str = "label",
                token_field: str = "tokens") -> int:
    """Write ``token<TAB>tag`` lines, a blank line after each sentence; returns sentences written.

    Each row needs a token list under ``token_field`` and one tag per token under ``tag_field``:
    ``"label"`` as in :func:`labeled_rows`, or ``"ner_tags"`` for rows as the CoNLL reader yields
    them. A row whose tags are None (not annotated, or a parse error) is left out: CoNLL has no
    way to say "unlabeled", and writing ``O`` would invent a label. A token the reader would
    split or skip (spaces, tabs, blank, ``-DOCSTART-``) is an error, never silently changed.
    """
    blocks = []
    for i, row in enumerate(rows):
        tokens, tags = row.get(token_field), row.get(tag_field)
        if tags is None:
            continue
        if isinstance(tokens, str) or not isinstance(tokens, Sequence) or not tokens:
            raise InputError(f"row {i} needs a non-empty list of tokens, got {tokens!r:.80} (CoNLL is for "
                             "token-level labels such as NER)", field=token_field)
        if isinstance(tags, str) or not isinstance(tags, Sequence) or len(tags) != len(tokens):
            raise InputError(f"row {i} has {len(tokens)} tokens but its tags are {tags!r:.80}", field=tag_field)
        for j, (token, tag) in enumerate(zip(tokens, tags)):
            for what, value, field in (("token", token, token_field), ("tag", tag, tag_field)):
                if not _conll_cell(value):
                    raise InputError(f"row {i}, {what} {j} is {value!r}; a CoNLL cell must be non-blank text "
                                     f"without spaces, tabs or line breaks, and not {DOCSTART}", field=field)
        blocks.append("".join(f"{token}\t{tag}\n" for token, tag in zip(tokens, tags)))
    with replacing(path) as tmp, open(tmp, "w", encoding="utf-8") as f:
        f.write("\n".join(blocks))
    return len(blocks)


def with_people(rows: list[dict[str, Any]], people: Mapping[str, Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Where people answered an item (the review page, or an import), their label wins: the
    majority of their answers (``review.answers.people_majority``), with ``labeled_by``
    ``human``, ``reviewers`` and ``confidence`` = their agreement."""
    from ..review.answers import people_majority
    verdicts = people_majority(people)
    for row in rows:
        v = verdicts.get(row["id"])
        if v is not None:
            row.update({"label": v.label, "labeled_by": "human", "reviewers": list(v.reviewers),
                        "confidence": v.agreement, "error": None})
    return rows


def export_annotations(records: Sequence[Record], annotations: Sequence[Annotation], path: str | Path,
                       fmt: str, routed: Mapping[str, tuple[str, Any, float | None, bool]] | None = None,
                       queued: Sequence[str] = (), people: Mapping[str, Mapping[str, Any]] | None = None) -> int:
    if fmt not in FORMATS:
        raise InputError(f"unknown export format '{fmt}'; use one of {', '.join(FORMATS)}", field="format")
    rows = with_people(labeled_rows(records, annotations, routed), people or {})
    if fmt == "labelstudio":
        raise InputError("Label Studio tasks are written by `labelwise export --format labelstudio` (they need the "
                         "project's task and annotators)", field="format")
    if fmt == "conll":
        return write_conll(path, rows)
    if fmt == "parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq
        table = pa.Table.from_pylist([{k: (json.dumps(v) if isinstance(v, dict) else v) for k, v in row.items()}
                                      for row in rows])
        with replacing(path) as tmp:
            pq.write_table(table, str(tmp))
        return len(rows)
    with replacing(path) as tmp, open(tmp, "w", encoding="utf-8", newline="") as f:
        if fmt == "jsonl":
            for row in rows:
                f.write(json.dumps(row, ensure_ascii=False) + "\n")
        else:
            flat = [{k: (json.dumps(v, ensure_ascii=False) if isinstance(v, (dict, list)) else v)
                     for k, v in row.items()} for row in rows]
            w = csv.DictWriter(f, fieldnames=list(flat[0]) if flat else ["id"])
            w.writeheader()
            w.writerows(flat)
    return len(rows)
