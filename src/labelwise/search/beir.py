"""BEIR folders (corpus.jsonl, queries.jsonl, qrels/SPLIT.tsv) and TREC qrels files, read with
errors that name the file and line."""
from __future__ import annotations

import json
from pathlib import Path

from ..errors import InputError


def _jsonl(path: Path) -> list[dict]:
    if not path.exists():
        raise InputError("file not found (a BEIR folder has corpus.jsonl, queries.jsonl and qrels/)", path=str(path))
    out = []
    for i, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except ValueError as e:
            raise InputError(f"not JSON: {e}", path=str(path), line=i) from None
        if "_id" not in row:
            raise InputError("no _id", path=str(path), line=i, field="_id")
        out.append(row)
    return out


def read_qrels(path: str | Path) -> dict[str, dict[str, int]]:
    """A qrels file: BEIR's TSV (query-id, corpus-id, score; a header line) or TREC's
    whitespace-separated ``qid iteration docid grade``."""
    path = Path(path)
    if not path.exists():
        raise InputError("file not found", path=str(path))
    qrels: dict[str, dict[str, int]] = {}
    for i, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        parts = line.split("\t") if "\t" in line else line.split()
        if not parts or not line.strip() or (i == 1 and parts[0] in ("query-id", "query_id", "qid")):
            continue
        if len(parts) == 3:
            q, d, g = parts
        elif len(parts) == 4:
            q, _, d, g = parts
        else:
            raise InputError(f"expected 3 (BEIR) or 4 (TREC) columns, got {len(parts)}", path=str(path), line=i)
        try:
            qrels.setdefault(q.strip(), {})[d.strip()] = int(float(g))
        except ValueError:
            raise InputError(f"grade {g!r} is not a number", path=str(path), line=i) from None
    return qrels


def read_beir(folder: str | Path, split: str = "test") -> tuple[dict[str, str], dict[str, str], dict[str, dict[str, int]]]:
    """(corpus: doc id -> title + text, queries: id -> text, qrels) of a BEIR folder."""
    folder = Path(folder)
    corpus = {str(r["_id"]): " ".join(x for x in (r.get("title") or "", r.get("text") or "") if x).strip()
              for r in _jsonl(folder / "corpus.jsonl")}
    queries = {str(r["_id"]): str(r.get("text") or "") for r in _jsonl(folder / "queries.jsonl")}
    qrels = read_qrels(folder / "qrels" / f"{split}.tsv")
    return corpus, queries, qrels
