"""A person's answer as an annotation (`human/NAME`), like any model's: eval, agreement, the
quality report, the loop and the router read it the same way. Plain functions; the server
calls them and the store writes them (versioned: a stale page cannot overwrite a newer answer).
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any, Mapping

from ..quality.gold_watch import same_label
from ..types import Annotation, Record

REJECTED = "rejected by the reviewer: none of the labels fits, or the item is unusable"


@dataclass(frozen=True)
class PeopleLabel:
    """What people say an item's label is: their majority, how many of them agreed, who answered."""
    label: Any
    agreement: float      # share of the item's reviewers who gave ``label``
    reviewers: tuple[str, ...]


def people_majority(people: Mapping[str, Mapping[str, Any]]) -> dict[str, PeopleLabel]:
    """record id -> the majority of people's answers (``reviewer -> {record id: label}``, as
    ``Project.people_labels`` gives it). A tie goes to the earliest reviewer in name order, so
    the result does not depend on the order answers came in. List labels (multi-label, NER
    tags) compare as tuples and come back as lists."""
    by_item: dict[str, list[tuple[str, Any]]] = {}
    for name in sorted(people):
        for rid, label in people[name].items():
            by_item.setdefault(rid, []).append((name, tuple(label) if isinstance(label, list) else label))
    out: dict[str, PeopleLabel] = {}
    for rid, answers in by_item.items():
        labels = [lab for _, lab in answers]
        best = max(labels, key=lambda lab: (labels.count(lab), -labels.index(lab)))
        out[rid] = PeopleLabel(list(best) if isinstance(best, tuple) else best, labels.count(best) / len(labels),
                               tuple(n for n, _ in answers))
    return out


def human_id(reviewer: str) -> str:
    return f"human/{reviewer}"


def reviewer_name_ok(name: str) -> bool:
    return bool(name) and len(name) <= 64 and all(c.isalnum() or c in "-_." for c in name)


def check_label(task: Any, record: Record, value: Any) -> Any:
    """A submitted label as the task stores it (the same rules as a gold label); ValueError
    names what is wrong."""
    if value is None:
        raise ValueError("no label given")
    label = task.normalize_gold(value)
    if task.kind == "ner" and len(label) != len(task.tokens(record)):
        raise ValueError(f"{len(label)} tags for {len(task.tokens(record))} tokens")
    return label


def human_annotation(task: Any, record: Record, reviewer: str, label: Any, seconds: float, cost: float,
                     rejected: bool = False) -> Annotation:
    aid = human_id(reviewer)
    key = hashlib.sha256("\x1f".join(("human", record.id, aid, task.template_hash)).encode()).hexdigest()
    return Annotation(record_id=record.id, annotator_id=aid, template_hash=task.template_hash,
                      label=None if rejected else label, distribution=None, error=REJECTED if rejected else None,
                      call_keys=(), prompt_tokens=0, completion_tokens=0, cost=cost, latency_s=seconds, repeat=0,
                      item_key=key)


def label_cost(seconds: float, price_per_hour: float | None, price_per_label: float) -> float:
    """A label's cost: its measured time at the hourly rate when one is set, else the flat price."""
    return seconds / 3600.0 * price_per_hour if price_per_hour is not None else price_per_label


def needs_second_look(label: Any, pre: Annotation | None, confidence: float | None, judge_margin: float,
                      small_label: Any = None, as_sets: bool = False) -> bool:
    """The LLM as judge of a person's answer: it differs from a pre-annotation that was at least
    ``judge_margin`` sure, and from the small model's label where there is one."""
    if pre is None or pre.error or confidence is None or confidence < judge_margin:
        return False
    if same_label(label, pre.label, as_sets):
        return False
    return small_label is None or not same_label(label, small_label, as_sets)
