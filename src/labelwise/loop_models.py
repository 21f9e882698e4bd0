"""What the active-learning loop does with a small model, per task kind: its inputs, the pool
state a strategy reads, the test metrics and the labels it gives the rest of the pool.

``ClassifierRounds`` serves classification and pairs (one label per item); ``TaggerRounds``
serves NER (one tag per token, marginals from a CRF or token classifier). The loop picks one by
the task kind and stays wiring only.
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from .quality.classification_metrics import classification_report
from .strategies import PoolState
from .types import Record


class ClassifierRounds:
    default_model = "logreg"
    default_strategy = "entropy"
    metric = "accuracy"

    def __init__(self, task: Any) -> None:
        self.task = task

    def inputs(self, records: Sequence[Record]) -> list[Any]:
        f = self.task.input_fields
        return [r.fields[f[0]] if len(f) == 1 else tuple(r.fields[x] for x in f) for r in records]

    def _full(self, model: Any, proba: np.ndarray) -> np.ndarray:
        """Columns for every label of the task, in schema order: a label the LLM never gave yet
        gets probability 0 instead of vanishing (uncertainty needs the full distribution)."""
        labels = self.task.labels
        full = np.zeros((proba.shape[0], len(labels)))
        for j, c in enumerate(model.classes_):
            full[:, labels.index(c)] = proba[:, j]
        return full

    def pool_state(self, model: Any, records: Sequence[Record], labeled: dict[str, Any], strategy: str) -> PoolState:
        X = self.inputs(records)
        proba = self._full(model, model.predict_proba(X))
        needs_base = strategy == "ci"
        return PoolState(
            ids=np.array([r.id for r in records]), labeled=np.array([r.id in labeled for r in records]),
            proba=proba, predicted=np.asarray(self.task.labels)[proba.argmax(1)],
            base_score=self._full(model, model.base_proba(X)) if needs_base else None,
            finetuned_score=proba if needs_base else None,
            embeddings=model.embed(X) if strategy == "diversity" else None)

    def predictions(self, model: Any, records: Sequence[Record]) -> np.ndarray:
        """The model's answer per item as one string (a multi-label set or a tag sequence joined),
        for telling whether predictions changed between rounds."""
        return np.array(["|".join(map(str, p)) if isinstance(p, (list, tuple)) else str(p)
                         for p in model.predict(self.inputs(records))], dtype=object)

    def votes(self, model: Any, X: Sequence[Any]) -> np.ndarray:
        """One committee member's vote per item, as an index into the task's labels."""
        return self._full(model, model.predict_proba(X)).argmax(axis=1)

    def evaluate(self, model: Any, records: Sequence[Record]) -> dict[str, float]:
        m = classification_report([r.gold for r in records], list(model.predict(self.inputs(records))),
                                  [None] * len(records), self.task.labels)
        return {"accuracy": m["accuracy"], "macro_f1": m["macro_f1"], "n": m["n"]}

    def label_counts(self, labels: Sequence[Any]) -> dict[str, int]:
        return {l: sum(v == l for v in labels) for l in self.task.labels}

    def llm_label_quality(self, labels: Sequence[Any], gold: Sequence[Any]) -> float | None:
        return sum(a == b for a, b in zip(labels, gold)) / len(gold) if gold else None

    def predict_rest(self, model: Any, records: Sequence[Record]) -> list[tuple[Any, float]]:
        if not records:
            return []
        proba = self._full(model, model.predict_proba(self.inputs(records)))
        return [(self.task.labels[int(p.argmax())], float(p.max())) for p in proba]


class TaggerRounds(ClassifierRounds):
    default_model = "crf"
    default_strategy = "mean_token_entropy"
    metric = "f1"

    def inputs(self, records: Sequence[Record]) -> list[list[str]]:
        return [self.task.tokens(r) for r in records]

    def pool_state(self, model: Any, records: Sequence[Record], labeled: dict[str, Any], strategy: str) -> PoolState:
        X = self.inputs(records)
        return PoolState(
            ids=np.array([r.id for r in records]), labeled=np.array([r.id in labeled for r in records]),
            token_marginals=model.token_marginals(X),
            sequence_logprob=model.sequence_logprob(X) if strategy == "sequence_least_confidence" else None,
            embeddings=model.embed([" ".join(x) for x in X]) if strategy == "diversity" else None)

    def votes(self, model: Any, X: Sequence[Any]) -> np.ndarray:
        raise ValueError("strategy 'committee' votes on one label per item; for ner use mean_token_entropy, "
                         "max_token_entropy, sequence_least_confidence or random")

    def evaluate(self, model: Any, records: Sequence[Record]) -> dict[str, float]:
        from .quality.ner_metrics import ner_report
        m = ner_report([r.gold for r in records], list(model.predict(self.inputs(records))), self.task.labels)
        return {"f1": m["micro"]["f1"], "macro_f1": m["macro"]["f1"], "accuracy": m["token_accuracy"],
                "n": len(records)}

    def label_counts(self, labels: Sequence[Any]) -> dict[str, int]:
        """Entity mentions per type among the labels bought."""
        from .tasks.bio import tags_to_spans
        counts = {t: 0 for t in self.task.labels}
        for tags in labels:
            for _, _, t in tags_to_spans(tags):
                counts[t] = counts.get(t, 0) + 1
        return counts

    def llm_label_quality(self, labels: Sequence[Any], gold: Sequence[Any]) -> float | None:
        """Entity-level micro-F1 of the LLM's labels against gold."""
        from .quality.ner_metrics import ner_report
        return ner_report(list(gold), list(labels), self.task.labels)["micro"]["f1"] if gold else None

    def predict_rest(self, model: Any, records: Sequence[Record]) -> list[tuple[Any, float]]:
        """Tags and the mean best-tag marginal over the sentence's tokens."""
        if not records:
            return []
        X = self.inputs(records)
        tags = model.predict(X)
        return [(tuple(t), float(m.max(axis=1).mean()) if len(m) else 1.0)
                for t, m in zip(tags, model.token_marginals(X))]


def rounds_for(task: Any) -> ClassifierRounds:
    return TaggerRounds(task) if task.kind == "ner" else ClassifierRounds(task)
