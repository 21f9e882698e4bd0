"""Labels against gold for a project: the task's metrics plus error share, cost, time, and how much
of the model's probability went to the labels at all."""
from __future__ import annotations

from typing import Any, Mapping, Sequence

from .project import Project
from .tasks.base import label_mass
from .types import Annotation, Labeled, Response

# An item whose labels got less than this share of the model's probability is flagged: most of
# the model's belief went to an answer that is no label, so the label stored for it is the best
# of answers the model did not want to give (the prompt or the label names likely need work).
LOW_LABEL_MASS = 0.5


def annotation_label_mass(calls: Sequence[Mapping[str, Any]]) -> float | None:
    """The lowest label mass over an annotation's scored answers (``Store.calls``): one question
    the model would not answer in label terms is enough to doubt the item (multilabel asks one
    per label). None when no answer has choice scores (votes, free text)."""
    masses = []
    for c in calls:
        if c.get("response"):  # only the two fields label_mass reads: stored shapes elsewhere may vary
            masses.append(label_mass(Response(choice_logprobs=c["response"].get("choice_logprobs"), raw=c.get("raw"))))
    measured = [m for m in masses if m is not None]
    return min(measured) if measured else None


def label_mass_stats(masses: Sequence[float], threshold: float = LOW_LABEL_MASS) -> dict[str, Any] | None:
    """Mean label mass and how many items fall below ``threshold``; None when nothing was scored."""
    if not masses:
        return None
    below = sum(m < threshold for m in masses)
    return {"n": len(masses), "mean": sum(masses) / len(masses), "below": below,
            "below_share": below / len(masses), "threshold": threshold}


def _label_masses(project: Project, anns: Sequence[Annotation]) -> list[float]:
    """Per annotation, errors included: an answer with no label among the model's top tokens is
    the extreme of the same problem (mass 0)."""
    store = project.store
    masses = (annotation_label_mass(store.calls(a)) for a in anns)
    return [m for m in masses if m is not None]


def stored_annotations(project: Project, annotator_id: str, data: Sequence[Any]) -> dict[str, Annotation]:
    """Another annotator's latest answer per record under the current prompt template (e.g. a
    reviewer, ``human/NAME``, or a model asked through the router), by record id."""
    ids = {r.id for r in data}
    out: dict[str, Annotation] = {}
    for a in project.store.annotations(annotator_id=annotator_id, template_hash=project.task.template_hash):
        if a.record_id in ids:
            out[a.record_id] = a  # oldest first: the last one wins
    return out


def evaluate(project: Project, annotator_id: str | None = None) -> dict[str, Any]:
    """The records of the data file as it is now, each with its annotation as the project asks
    now (its text, prompt and annotator settings); rows removed from the file are not counted.
    With ``annotator_id`` (another model, or a person: ``human/NAME``), that annotator's stored
    answers under the current template instead."""
    task = project.task
    data = project.read_data()
    other = annotator_id is not None and annotator_id != project.annotator.id
    current = stored_annotations(project, annotator_id, data) if other else project.current_annotations(data)
    records = {r.id: r for r in data}
    anns = [current[r.id] for r in data if r.id in current]
    ok = [a for a in anns if a.error is None]
    gold = [records[a.record_id].gold for a in ok]
    labeled = [Labeled(a.label, a.distribution) for a in ok]
    by_records = getattr(task, "record_metrics", None)  # a task whose metrics need the records (ranking)
    m = by_records([records[a.record_id] for a in ok], gold, labeled) if by_records else task.metrics(gold, labeled)
    with_gold = sum(g is not None for g in gold)
    cost = sum(a.cost for a in anns)
    seconds = sum(a.latency_s for a in anns)
    human = project.config.human_price_per_label
    return {**m, "kind": task.kind, "annotator": annotator_id if other else project.annotator.id, "annotated": len(anns), "errors": len(anns) - len(ok),
            "error_share": (len(anns) - len(ok)) / len(anns) if anns else 0.0, "with_gold": with_gold,
            "label_mass": label_mass_stats(_label_masses(project, anns)),
            "cost": cost, "seconds": seconds, "seconds_per_item": seconds / len(anns) if anns else 0.0,
            "human_price_per_label": human, "human_cost": human * len(anns)}
