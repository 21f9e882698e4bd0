"""What a reviewer sees next: the items people must label, riskiest first, with gold questions
mixed in unmarked.

The queue is the store's review queue (the router's `human` stage, suspect labels from
`labelwise quality --queue`, a gold reroute to people, second looks) plus whatever the
`select` filter adds (``all`` annotated items, or ``uncertain:M``: items whose pre-annotation
margin is under M). An item leaves the queue once ``review.overlap`` people answered it (one
more for a second look); a reviewer never gets an item twice. Risk is the pre-annotation's
uncertainty: 1 - margin (NER: 1 - its lowest token confidence; no pre-annotation: highest).
"""
from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

from ..routing.confidence import margin, min_token_confidence
from ..types import Annotation, Record

SECOND_LOOK = "second-look"


@dataclass(frozen=True)
class QueueItem:
    record: Record
    reason: str
    pre: Annotation | None      # the LLM's pre-annotation (None: no model labeled it)
    confidence: float | None    # margin (NER: lowest token confidence) of the pre-annotation
    gold: bool = False          # never shown: a gold question looks like any other item

    @property
    def risk(self) -> float:
        return 1.0 if self.confidence is None else 1.0 - self.confidence


def pre_confidence(ann: Annotation | None) -> float | None:
    """How sure the pre-annotation is: the margin of a scored label distribution, NER's lowest
    token confidence; None when the annotation has neither (or is an error)."""
    if ann is None or ann.error or not ann.distribution:
        return None
    d = ann.distribution
    if "token_confidence" in d:
        tc = d["token_confidence"]
        return float(min_token_confidence(tc)) if len(tc) else None
    probs = {k: v for k, v in d.items() if isinstance(v, (int, float))}
    return float(margin(probs)) if probs else None


def select_items(select: str, records: Sequence[Record], pre: Mapping[str, Annotation]) -> dict[str, str]:
    """record id -> reason, for a ``--select`` filter: ``queued`` (nothing more), ``all`` (every
    item with a pre-annotation), ``uncertain:M`` (pre-annotation margin under M)."""
    if select == "queued":
        return {}
    if select == "all":
        return {r.id: "selected: every annotated item" for r in records if r.id in pre}
    if select.startswith("uncertain:"):
        try:
            cut = float(select.split(":", 1)[1])
        except ValueError:
            raise ValueError(f"--select {select!r}: expected uncertain:MARGIN, e.g. uncertain:0.3") from None
        out = {}
        for r in records:
            c = pre_confidence(pre.get(r.id))
            if r.id in pre and c is not None and c < cut:
                out[r.id] = f"selected: pre-annotation margin {c:.2f} < {cut}"
        return out
    raise ValueError(f"--select {select!r}: use queued, all or uncertain:MARGIN")


def build_queue(reviewer: str, records: Sequence[Record], pre: Mapping[str, Annotation],
                queued: Mapping[str, tuple[str, str]], answered_by: Mapping[str, set[str]], overlap: int,
                gold_share: float, seed: int = 0, skipped: set[str] = frozenset(),
                claimed: Mapping[str, set[str]] | None = None) -> list[QueueItem]:
    """This reviewer's queue. ``queued``: record id -> (run, reason); ``answered_by``: record id
    -> reviewers who answered it; ``claimed``: record id -> other reviewers it is open for right
    now (counted as answers, so two people are not sent the same item when one answer is
    needed). Gold questions (records with gold that are not in the queue) are spread through it
    at a ``gold_share`` of its length, at positions seeded by the reviewer's name, each with the
    reason of a real item next to it."""
    by_id = {r.id: r for r in records}
    claimed = claimed or {}
    items = []
    for rid, (run, reason) in queued.items():
        if rid not in by_id or reviewer in answered_by.get(rid, set()) or rid in skipped:
            continue
        need = overlap + (1 if run == SECOND_LOOK else 0)
        busy = claimed.get(rid, set()) - answered_by.get(rid, set()) - {reviewer}
        if len(answered_by.get(rid, ())) + len(busy) >= need:
            continue
        a = pre.get(rid)
        items.append(QueueItem(by_id[rid], reason, a, pre_confidence(a)))
    items.sort(key=lambda q: (-q.risk, q.record.id))
    if not items or gold_share <= 0:
        return items
    rng = random.Random(f"{seed}:{reviewer}")
    pool = [r for r in records if r.gold is not None and r.id not in queued and reviewer not in
            answered_by.get(r.id, set()) and r.id not in skipped]
    n_gold = min(len(pool), max(1, round(len(items) * gold_share / (1 - gold_share))))
    for r in rng.sample(pool, n_gold):
        at = rng.randint(0, len(items))
        near = items[min(at, len(items) - 1)]
        a = pre.get(r.id)
        items.insert(at, QueueItem(r, near.reason, a, pre_confidence(a), gold=True))
    return items


def view(item: QueueItem, task: Any, labels: Mapping[str, str], version: int, others: Sequence[tuple[str, Any]] = ()
         ) -> dict[str, Any]:
    """What the page shows of one item (never whether it is gold)."""
    r, a = item.record, item.pre
    out: dict[str, Any] = {"record_id": r.id, "kind": task.kind, "fields": {f: r.fields[f] for f in task.input_fields},
                           "labels": [{"name": k, "description": v} for k, v in labels.items()],
                           "reason": item.reason, "version": version, "confidence": item.confidence,
                           "pre": None, "distribution": [], "routed": list(others)}
    if task.kind == "ner":
        out["tokens"] = list(task.tokens(r))
    if a is not None:
        out["pre"] = None if a.error else (list(a.label) if isinstance(a.label, (list, tuple)) else a.label)
        out["pre_by"] = a.annotator_id
        out["pre_error"] = a.error
        d = a.distribution or {}
        out["distribution"] = sorted(((k, float(v)) for k, v in d.items() if isinstance(v, (int, float))),
                                     key=lambda kv: -kv[1])
    return out
