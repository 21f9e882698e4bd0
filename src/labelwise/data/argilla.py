"""Argilla v2 interchange: a dataset folder in the layout ``rg.Dataset.to_disk`` writes and
``rg.Dataset.from_disk(path, client=...)`` reads — ``.argilla/dataset.json`` (the dataset model),
``.argilla/settings.json`` (fields, the one question, metadata, distribution) and
``records.json`` (one record per item).

Every task kind maps to one question named ``label``: classification and pairs to a label
selection, multi-label to a multi-label selection, NER to spans over the tokens joined by single
spaces (the field ``text``), relevance to a 0-3 rating. Each record carries one suggestion (the
route's label where the item was routed, else the project annotator's, else the latest answer
of another model with the same prompt template; its margin as score, the annotator id as agent) and people's answers as responses, their user ids a UUID
derived from the reviewer's name (stable across exports). ``needs_review`` marks what nobody may
label yet. Argilla records hold one suggestion per question, so other annotators' answers are
not exported here (Label Studio's tasks carry them all).
"""
from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

from ..errors import InputError
from .writers import replacing

QUESTION = "label"
NER_FIELD = "text"
_USERS = uuid.UUID("6f1d7a52-2c1e-4d0b-9f3e-6c4a1b2d9e70")  # namespace of the reviewers' user ids


def user_id(reviewer: str) -> str:
    """A reviewer's Argilla user id: the same UUID in every export."""
    return str(uuid.uuid5(_USERS, reviewer))


def question_type(kind: str) -> str:
    return {"ner": "span", "multilabel": "multi_label_selection", "relevance": "rating"}.get(kind, "label_selection")


def _blank(name: str) -> dict[str, Any]:
    return {"id": None, "inserted_at": None, "updated_at": None, "name": name, "title": name, "dataset_id": None}


def field_names(task: Any) -> list[str]:
    return [NER_FIELD] if task.kind == "ner" else list(task.input_fields)


def settings_for(task: Any, overlap: int = 1, guidelines: str | None = None) -> dict[str, Any]:
    """The dataset's settings as ``rg.Settings.to_json`` writes them."""
    qtype = question_type(task.kind)
    labels = list(task.labels)
    if qtype == "rating":
        qsettings: dict[str, Any] = {"type": "rating", "options": [{"value": int(g)} for g in sorted(labels, key=int)]}
    else:
        qsettings = {"type": qtype, "options": [{"text": str(l), "value": str(l)} for l in labels],
                     "visible_options": None}
        if qtype == "span":
            qsettings.update({"field": NER_FIELD, "allow_overlapping": False})
        if qtype == "multi_label_selection":
            qsettings["options_order"] = "natural"
    described = {k: v for k, v in dict(task.labels).items() if v} if isinstance(task.labels, Mapping) else {}
    question = {**_blank(QUESTION), "settings": qsettings, "type": qtype, "required": True,
                "description": "; ".join(f"{k}: {v}" for k, v in described.items()) or None}
    fields = [{**_blank(f), "settings": {"type": "text", "use_markdown": False}, "type": "text", "required": True,
               "description": None} for f in field_names(task)]
    terms = [{**_blank(n), "settings": {"type": "terms", "values": None, "visible_for_annotators": True},
              "visible_for_annotators": True} for n in ("labeled_by", "certified", "needs_review")]
    conf = {**_blank("confidence"), "settings": {"type": "float", "min": None, "max": None,
                                                 "visible_for_annotators": True}, "visible_for_annotators": True}
    return {"guidelines": guidelines, "questions": [question], "fields": fields, "vectors": [],
            "metadata": [*terms, conf], "allow_extra_metadata": False,
            "distribution": {"strategy": "overlap", "min_submitted": max(1, int(overlap))}, "mapping": None}


def dataset_model(name: str, guidelines: str | None = None) -> dict[str, Any]:
    """The dataset model (``.argilla/dataset.json``): a draft with no server ids yet."""
    return {"id": None, "inserted_at": None, "updated_at": None, "name": name, "status": "draft",
            "guidelines": guidelines, "allow_extra_metadata": False, "distribution": None, "workspace_id": None,
            "last_activity_at": None}


def value_of(kind: str, label: Any, tokens: Sequence[str] | None = None) -> Any:
    """Our label as the answer to the ``label`` question."""
    if kind == "ner":
        from ..tasks.bio import tags_to_spans
        from .labelstudio import token_offsets
        offs = token_offsets(tokens or [])
        return [{"label": typ, "start": offs[s][0], "end": offs[e - 1][1]} for s, e, typ in tags_to_spans(list(label))]
    if kind == "multilabel":
        return [str(l) for l in label]
    if kind == "relevance":
        return int(label)
    return str(label)


def records_for(task: Any, records: Sequence[Any], machine: Mapping[str, Mapping[str, Any]],
                people: Mapping[str, Mapping[str, Any]], routed: Mapping[str, tuple] | None = None,
                queued: Iterable[str] = ()) -> list[dict[str, Any]]:
    """One Argilla record per item. ``machine``: annotator id -> {record id: Annotation}, in the
    order their answers are preferred (the project's annotator first); ``people``: reviewer ->
    {record id: Annotation}; ``routed``: the route's (stage, label, confidence, certified) per
    record, which wins the one suggestion slot."""
    from ..routing.confidence import margin
    queued = set(queued)
    out = []
    for r in records:
        tokens = task.tokens(r) if task.kind == "ner" else None
        fields = {NER_FIELD: " ".join(tokens)} if tokens is not None else \
            {f: str(r.fields[f]) for f in task.input_fields}
        route = (routed or {}).get(r.id)
        agent, a = next(((aid, anns[r.id]) for aid, anns in machine.items() if r.id in anns
                         and anns[r.id].error is None and anns[r.id].label is not None), (None, None))
        suggestion = None
        if route is not None and route[1] is not None:
            suggestion = {"value": value_of(task.kind, route[1], tokens), "score": route[2],
                          "agent": f"route:{route[0]}", "type": "model"}
        elif a is not None:
            probs = {k: v for k, v in (a.distribution or {}).items() if isinstance(v, (int, float))}
            suggestion = {"value": value_of(task.kind, a.label, tokens),
                          "score": float(margin(probs)) if probs else None, "agent": agent, "type": "model"}
        answers = [{"value": value_of(task.kind, h.label, tokens), "user_id": user_id(name), "status": "submitted"}
                   for name, anns in sorted(people.items()) if (h := anns.get(r.id)) is not None and h.label is not None]
        meta: dict[str, Any] = {"labeled_by": route[0] if route else (agent or "nobody"),
                                "certified": "yes" if route and route[3] else "no",
                                "needs_review": "yes" if r.id in queued or suggestion is None else "no"}
        if suggestion is not None and suggestion["score"] is not None:
            meta["confidence"] = float(suggestion["score"])
        out.append({"id": str(r.id), "fields": fields, "metadata": meta,
                    "suggestions": {QUESTION: suggestion} if suggestion else {},
                    "responses": {QUESTION: answers} if answers else {}, "vectors": {},
                    "status": "completed" if answers else "pending", "_server_id": None})
    return out


def write_dataset(folder: str | Path, name: str, settings: dict[str, Any], records: list[dict[str, Any]]) -> Path:
    """Write the three files; an existing non-empty folder that is not an Argilla export is refused
    (``to_disk`` wants an empty one: we replace only our own files, each whole or not at all)."""
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise InputError(f"{folder}: not a folder (an Argilla export is a folder)")
    if folder.is_dir() and any(folder.iterdir()) and not (folder / ".argilla" / "settings.json").exists():
        raise InputError(f"{folder}: a non-empty folder that is not an Argilla export; choose another --out")
    (folder / ".argilla").mkdir(parents=True, exist_ok=True)
    for path, data in ((folder / ".argilla" / "dataset.json", dataset_model(name, settings.get("guidelines"))),
                       (folder / ".argilla" / "settings.json", settings), (folder / "records.json", records)):
        with replacing(path) as tmp:
            tmp.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    return folder
