"""Labels against gold for a project: the task's metrics plus error share, cost and time."""
from __future__ import annotations

from typing import Any

from .project import Project
from .types import Labeled


def evaluate(project: Project) -> dict[str, Any]:
    task, store = project.task, project.store
    records = {r.id: r for r in store.records()}
    anns = [a for a in store.annotations(project.annotator.id, task.template_hash) if a.record_id in records]
    ok = [a for a in anns if a.error is None]
    gold = [records[a.record_id].gold for a in ok]
    m = task.metrics(gold, [Labeled(a.label, a.distribution) for a in ok])
    with_gold = sum(g is not None for g in gold)
    cost = sum(a.cost for a in anns)
    seconds = sum(a.latency_s for a in anns)
    human = project.config.human_price_per_label
    return {**m, "annotator": project.annotator.id, "annotated": len(anns), "errors": len(anns) - len(ok),
            "error_share": (len(anns) - len(ok)) / len(anns) if anns else 0.0, "with_gold": with_gold,
            "cost": cost, "seconds": seconds, "seconds_per_item": seconds / len(anns) if anns else 0.0,
            "human_price_per_label": human, "human_cost": human * len(anns)}
