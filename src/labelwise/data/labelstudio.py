"""Label Studio interchange: tasks to import (each item with one prediction per machine
annotator and the reviewers' answers as annotations) with the labeling config they fit, and
reading a Label Studio export back as people's annotations.

Every task kind maps to one config: classification and multi-label to ``<Choices>`` on a
``<Text>`` (pairs: two ``<Text>``), NER to ``<Labels>`` with character spans over the tokens
joined by single spaces. ``model_version`` is the annotator's id (stable across exports);
``score`` is the label's confidence where the annotator had one. Items nobody may label yet
(the review queue) carry ``meta.needs_review``.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence
from xml.sax.saxutils import quoteattr

from ..errors import InputError

FROM_NAME, TO_NAME = "label", "text"


# -- config -------------------------------------------------------------------------------------
def labeling_config(labels: Sequence[str], text_field: str, multiple: bool = False, kind: str = "classification",
                    pair_field: str | None = None) -> str:
    """The Label Studio labeling config the tasks of this kind fit."""
    if kind == "ner":
        tags = "".join(f"<Label value={quoteattr(l)}/>" for l in labels)
        return (f'<View><Labels name="{FROM_NAME}" toName="{TO_NAME}">{tags}</Labels>'
                f'<Text name="{TO_NAME}" value="${text_field}"/></View>')
    choice = "".join(f"<Choice value={quoteattr(l)}/>" for l in labels)
    mode = ' choice="multiple"' if multiple else ""
    second = f'<Text name="{TO_NAME}_b" value="${pair_field}"/>' if pair_field else ""
    return (f'<View><Text name="{TO_NAME}" value="${text_field}"/>{second}'
            f'<Choices name="{FROM_NAME}" toName="{TO_NAME}"{mode}>{choice}</Choices></View>')


def config_for(task: Any) -> str:
    from ..tasks.kinds import task_kind
    f = task.input_fields
    pair = task_kind(task.kind).two_texts and len(f) > 1  # pairs, (query, document): both texts shown
    return labeling_config(list(task.labels), "text" if task.kind == "ner" else f[0], task.kind == "multilabel",
                           task.kind, f[1] if pair else None)


# -- labels <-> results ---------------------------------------------------------------------------
def token_offsets(tokens: Sequence[str]) -> list[tuple[int, int]]:
    """Character (start, end) of each token in ``" ".join(tokens)``."""
    out, at = [], 0
    for t in tokens:
        out.append((at, at + len(t)))
        at += len(t) + 1
    return out


def result_of(kind: str, label: Any, tokens: Sequence[str] | None = None) -> list[dict[str, Any]]:
    if kind == "ner":
        from ..tasks.bio import tags_to_spans
        offs = token_offsets(tokens or [])
        text = " ".join(tokens or [])
        out = []
        for s, e, typ in tags_to_spans(list(label)):
            a, b = offs[s][0], offs[e - 1][1]
            out.append({"from_name": FROM_NAME, "to_name": TO_NAME, "type": "labels",
                        "value": {"start": a, "end": b, "text": text[a:b], "labels": [typ]}})
        return out
    choices = list(label) if isinstance(label, (list, tuple)) else [label]
    return [{"from_name": FROM_NAME, "to_name": TO_NAME, "type": "choices", "value": {"choices": choices}}]


def label_of(kind: str, result: Sequence[Mapping[str, Any]], tokens: Sequence[str] | None = None) -> Any:
    """A Label Studio result list -> our label (NER: BIO tags; spans are snapped to the tokens
    they overlap). None when the result holds no label."""
    if kind == "ner":
        offs = token_offsets(tokens or [])
        tags = ["O"] * len(offs)
        for r in result:
            v = r.get("value", {})
            if r.get("type") != "labels" or not v.get("labels"):
                continue
            hit = [i for i, (a, b) in enumerate(offs) if a < v["end"] and b > v["start"]]
            for j, i in enumerate(hit):
                tags[i] = ("B-" if j == 0 else "I-") + v["labels"][0]
        return tags
    for r in result:
        if r.get("type") == "choices" and r.get("value", {}).get("choices"):
            ch = r["value"]["choices"]
            return ch if kind == "multilabel" else ch[0]
    return None


# -- export -----------------------------------------------------------------------------------------
def tasks(task: Any, records: Sequence[Any], machine: Mapping[str, Mapping[str, Any]],
          people: Mapping[str, Mapping[str, Any]], routed: Mapping[str, tuple] | None = None,
          queued: Iterable[str] = ()) -> list[dict[str, Any]]:
    """One Label Studio task per record. ``machine``: annotator id -> {record id: Annotation};
    ``people``: reviewer -> {record id: Annotation}; ``routed``: the route's (stage, label,
    confidence, certified) per record, which comes first among the predictions."""
    from ..routing.confidence import margin
    queued = set(queued)
    out = []
    for r in records:
        tokens = task.tokens(r) if task.kind == "ner" else None
        data: dict[str, Any] = {"record_id": r.id}
        if task.kind == "ner":
            data["text"] = " ".join(tokens)
        else:
            data.update({f: r.fields[f] for f in task.input_fields})
        route = (routed or {}).get(r.id)
        preds = []
        if route is not None and route[1] is not None:
            preds.append({"model_version": f"route:{route[0]}", "score": route[2],
                          "result": result_of(task.kind, route[1], tokens)})
        for aid, anns in machine.items():
            a = anns.get(r.id)
            if a is None or a.error or a.label is None:
                continue
            probs = {k: v for k, v in (a.distribution or {}).items() if isinstance(v, (int, float))}
            preds.append({"model_version": aid, "score": float(margin(probs)) if probs else None,
                          "result": result_of(task.kind, a.label, tokens)})
        first = next((aid for aid, anns in machine.items() if r.id in anns and anns[r.id].error is None), None)
        item: dict[str, Any] = {"data": data, "meta": {
            "labeled_by": route[0] if route else first,
            "certified": bool(route[3]) if route else False,
            "needs_review": r.id in queued or not preds}}
        if preds:
            item["predictions"] = preds
        answers = [{"completed_by": {"email": f"{name}@labelwise.local"}, "lead_time": a.latency_s,
                    "result": result_of(task.kind, a.label, tokens)}
                   for name, anns in people.items() if (a := anns.get(r.id)) is not None and a.label is not None]
        if answers:
            item["annotations"] = answers
        out.append(item)
    return out


def write_tasks(path: str | Path, items: list[dict[str, Any]], config: str | None = None) -> None:
    from .writers import replacing
    with replacing(path) as tmp, open(tmp, "w", encoding="utf-8") as f:
        json.dump(items, f, ensure_ascii=False, indent=1)
    if config is not None:
        with replacing(Path(path).with_suffix(".xml")) as tmp:
            tmp.write_text(config, encoding="utf-8")


# -- import -----------------------------------------------------------------------------------------
def reviewer_of(annotation: Mapping[str, Any]) -> str:
    """A Label Studio annotation's author as a reviewer name: the email's local part, else the id."""
    who = annotation.get("completed_by")
    if isinstance(who, dict):
        who = who.get("email") or who.get("id")
    name = str(who if who is not None else "label-studio").split("@", 1)[0]
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name)[:64] or "label-studio"


def read_export(path: str | Path, task: Any, records: Mapping[str, Any]) -> list[tuple[str, str, Any, float]]:
    """(record id, reviewer, label, seconds) for every finished annotation of a Label Studio JSON
    export; cancelled and empty ones are left out. A task without ``data.record_id``, or with one
    this project does not have, is an error naming the file and the task."""
    path = Path(path)
    try:
        items = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise InputError(f"not a Label Studio JSON export: {e}", path=str(path)) from None
    if not isinstance(items, list):
        raise InputError("a Label Studio JSON export is a list of tasks", path=str(path))
    out = []
    for i, t in enumerate(items):
        rid = (t.get("data") or {}).get("record_id") if isinstance(t, dict) else None
        if rid is None:
            raise InputError(f"task {i} (id {t.get('id') if isinstance(t, dict) else '?'}) has no data.record_id: "
                             "import tasks that `labelwise export --format labelstudio` wrote", path=str(path),
                             field="data.record_id")
        if rid not in records:
            raise InputError(f"task {i}: record {rid!r} is not in this project", path=str(path), field="data.record_id")
        tokens = task.tokens(records[rid]) if task.kind == "ner" else None
        for a in t.get("annotations") or t.get("completions") or []:
            if a.get("was_cancelled"):
                continue
            label = label_of(task.kind, a.get("result") or [], tokens)
            if label is None:
                continue
            out.append((rid, reviewer_of(a), label, float(a.get("lead_time") or 0.0)))
    return out
