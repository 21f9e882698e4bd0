"""Write labeled records out: JSONL, CSV or Parquet, one row per record."""
from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any, Sequence

from ..errors import InputError
from ..types import Annotation, Record

FORMATS = ("jsonl", "csv", "parquet")


def labeled_rows(records: Sequence[Record], annotations: Sequence[Annotation]) -> list[dict[str, Any]]:
    by_id = {a.record_id: a for a in annotations}
    rows = []
    for r in records:
        a = by_id.get(r.id)
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


def export_annotations(records: Sequence[Record], annotations: Sequence[Annotation], path: str | Path,
                       fmt: str) -> int:
    if fmt not in FORMATS:
        raise InputError(f"unknown export format '{fmt}'; use one of {', '.join(FORMATS)}", field="format")
    rows = labeled_rows(records, annotations)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "jsonl":
        with open(path, "w", encoding="utf-8") as f:
            for row in rows:
                f.write(json.dumps(row, ensure_ascii=False) + "\n")
    elif fmt == "csv":
        flat = [{k: (json.dumps(v, ensure_ascii=False) if isinstance(v, (dict, list)) else v) for k, v in row.items()}
                for row in rows]
        with open(path, "w", encoding="utf-8", newline="") as f:
            w = csv.DictWriter(f, fieldnames=list(flat[0]) if flat else ["id"])
            w.writeheader()
            w.writerows(flat)
    else:
        import pyarrow as pa
        import pyarrow.parquet as pq
        table = pa.Table.from_pylist([{k: (json.dumps(v) if isinstance(v, dict) else v) for k, v in row.items()}
                                      for row in rows])
        pq.write_table(table, path)
    return len(rows)
