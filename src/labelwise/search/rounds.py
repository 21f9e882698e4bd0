"""The active-learning loop's adapter for relevance (``TaskKind.rounds``): the small model is
the fine-tuned `ranker` bi-encoder, the loop's metric nDCG@10 of the ranking by its expected
grade, per domain of the test split. Uncertainty strategies read its distribution over grades;
`ci` compares it with the un-fine-tuned encoder's (the paper's base model)."""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from ..loop_models import ClassifierRounds
from ..types import Record
from .metrics import ranking_metrics


class RelevanceRounds(ClassifierRounds):
    default_model = "ranker"
    default_strategy = "entropy"
    metric = "ndcg@10"

    def evaluate(self, model: Any, records: Sequence[Record]) -> dict[str, float]:
        q_field = self.task.input_fields[0]
        X = self.inputs(records)
        p = self._full(model, model.predict_proba(X))
        scores = p @ np.array([float(g) for g in self.task.labels])
        qrels: dict[str, dict[str, int]] = {}
        run: dict[str, dict[str, float]] = {}
        for r, s in zip(records, scores):
            q = str(r.fields[q_field])
            if r.gold is not None:
                qrels.setdefault(q, {})[r.id] = int(r.gold)
            run.setdefault(q, {})[r.id] = float(s)
        m = ranking_metrics(qrels, run)
        grade_acc = float(np.mean([self.task.labels[int(i)] == r.gold for i, r in zip(p.argmax(1), records)])) \
            if records else None
        return {"ndcg@10": m["ndcg@10"], "mrr@10": m["mrr@10"], "map": m["map"], "grade_accuracy": grade_acc,
                "n": m["queries"]}
