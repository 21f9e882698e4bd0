"""Label Studio tasks: each item as a task with its input fields, and the label it has (from
the route or the annotator) as a prediction people can accept or correct. Items nobody may
label yet (the review queue) carry no prediction and ``meta.needs_review``.

The layout is Label Studio's JSON import format for a ``<Choices name="label" toName="text">``
labeling config; ``labeling_config`` gives the matching XML.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence
from xml.sax.saxutils import quoteattr

FROM_NAME, TO_NAME = "label", "text"


def tasks(rows: Sequence[Mapping[str, Any]], text_fields: Sequence[str], queued: Iterable[str] = ()) -> list[dict[str, Any]]:
    queued = set(queued)
    out = []
    for row in rows:
        task: dict[str, Any] = {"data": {"record_id": row["id"], **{f: row.get(f) for f in text_fields}},
                                "meta": {"labeled_by": row.get("labeled_by") or row.get("annotator"),
                                         "certified": bool(row.get("certified")),
                                         "needs_review": row["id"] in queued or row.get("label") is None}}
        label = row.get("label")
        if label is not None:
            choices = list(label) if isinstance(label, (list, tuple)) else [label]
            task["predictions"] = [{"model_version": str(task["meta"]["labeled_by"]),
                                    "score": row.get("confidence"),
                                    "result": [{"from_name": FROM_NAME, "to_name": TO_NAME, "type": "choices",
                                                "value": {"choices": choices}}]}]
        out.append(task)
    return out


def labeling_config(labels: Sequence[str], text_field: str, multiple: bool = False) -> str:
    """The Label Studio labeling config these tasks fit."""
    choice = "".join(f"<Choice value={quoteattr(l)}/>" for l in labels)
    mode = ' choice="multiple"' if multiple else ""
    return (f'<View><Text name="{TO_NAME}" value="${text_field}"/>'
            f'<Choices name="{FROM_NAME}" toName="{TO_NAME}"{mode}>{choice}</Choices></View>')


def write_tasks(path: str | Path, items: list[dict[str, Any]]) -> None:
    from .writers import replacing
    with replacing(path) as tmp, open(tmp, "w", encoding="utf-8") as f:
        json.dump(items, f, ensure_ascii=False, indent=1)
