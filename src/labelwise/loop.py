"""The active-learning loop. Wiring only: seed -> (train -> score -> select -> annotate) x rounds,
each round evaluated on the source test set and every target-domain test set, and stored so a
stopped loop resumes at its last finished round. LLM answers go through the engine (cache,
budget, ledger), so strategies compared on one pool share every answer already bought.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np

from .models.base import make_small_model
from .project import Project
from .quality.classification_metrics import classification_report
from .strategies import ClassBalanced, PoolState, make_strategy
from .types import Record

SOURCE = "source"


def model_input(task: Any, r: Record) -> Any:
    f = task.input_fields
    return r.fields[f[0]] if len(f) == 1 else tuple(r.fields[x] for x in f)


def split_records(records: Sequence[Record], test_split: str) -> tuple[list[Record], list[Record]]:
    test = [r for r in records if r.split == test_split and r.gold is not None]
    pool = [r for r in records if r.split != test_split]
    return pool, test


def evaluate_by_domain(model: Any, task: Any, test: Sequence[Record]) -> dict[str, dict[str, float]]:
    """Accuracy and macro-F1 of a fitted small model per domain (no domain = the source)."""
    out: dict[str, dict[str, float]] = {}
    domains = sorted({r.domain or SOURCE for r in test})
    for d in domains:
        rs = [r for r in test if (r.domain or SOURCE) == d]
        pred = model.predict([model_input(task, r) for r in rs])
        m = classification_report([r.gold for r in rs], list(pred), [None] * len(rs), task.labels)
        out[d] = {"accuracy": m["accuracy"], "macro_f1": m["macro_f1"], "n": m["n"]}
    return out


@dataclass
class ActiveLearningLoop:
    project: Project
    strategy: str
    budget: int
    rounds: int
    seed: int = 0
    seed_size: int = 50
    model: str = "logreg"
    seed_from_gold: bool = False
    class_balance: bool = False
    test_split: str = "test"
    on_round: Callable[[dict[str, Any]], None] = lambda r: None

    @property
    def run_name(self) -> str:
        return f"{self.strategy}{'+balanced' if self.class_balance else ''}/b{self.budget}/s{self.seed}/{self.model}"

    def _llm_labels(self, records: list[Record]) -> tuple[dict[str, Any], dict[str, Any]]:
        """Annotate through the engine; return labels of the items that got one, and the run summary."""
        p = self.project
        summary = p.run(records)
        anns = {a.record_id: a for a in p.store.annotations(p.annotator.id, p.task.template_hash)}
        got = {r.id: anns[r.id].label for r in records if r.id in anns and anns[r.id].error is None}
        return got, {"calls": summary.calls, "from_cache": summary.from_cache, "errors": summary.errors,
                     "money": summary.money, "stopped": summary.stopped}

    def _fit(self, pool: dict[str, Record], labeled: dict[str, Any]) -> Any:
        task = self.project.task
        ids = sorted(labeled)
        model = make_small_model(self.model, store=self.project.store, seed=self.seed)
        return model.fit([model_input(task, pool[i]) for i in ids], [labeled[i] for i in ids])

    def _full(self, model: Any, proba: np.ndarray) -> np.ndarray:
        """Columns for every label of the task, in schema order: a label the LLM never gave yet
        gets probability 0 instead of vanishing (uncertainty needs the full distribution)."""
        labels = self.project.task.labels
        full = np.zeros((proba.shape[0], len(labels)))
        for j, c in enumerate(model.classes_):
            full[:, labels.index(c)] = proba[:, j]
        return full

    def _select(self, model: Any, pool_records: list[Record], labeled: dict[str, Any], n: int) -> list[str]:
        task = self.project.task
        X = [model_input(task, r) for r in pool_records]
        proba = self._full(model, model.predict_proba(X))
        needs_base = self.strategy == "ci"
        state = PoolState(
            ids=np.array([r.id for r in pool_records]), labeled=np.array([r.id in labeled for r in pool_records]),
            proba=proba, predicted=np.asarray(task.labels)[proba.argmax(1)],
            base_score=self._full(model, model.base_proba(X)) if needs_base else None, finetuned_score=proba if needs_base else None,
            embeddings=model.embed(X) if self.strategy == "diversity" else None)
        strategy = make_strategy(self.strategy)
        if self.class_balance:
            strategy = ClassBalanced(strategy)
        return strategy.select(state, n, np.random.default_rng(self.seed * 7919 + len(labeled)))

    def final_labels(self) -> list[dict[str, Any]]:
        """Every pool item's label: the LLM's where bought, else the small model's with its
        confidence, from the last stored round."""
        p = self.project
        done = p.store.rounds(self.run_name)
        if not done:
            return []
        labeled = done[-1][2]
        pool_records, _ = split_records(p.store.records(), self.test_split)
        pool = {r.id: r for r in pool_records}
        model = self._fit(pool, labeled)
        rest = [r for r in pool_records if r.id not in labeled]
        proba = self._full(model, model.predict_proba([model_input(p.task, r) for r in rest])) if rest else None
        rows = [{"id": i, "label": l, "source": "llm", "confidence": None} for i, l in labeled.items()]
        for k, r in enumerate(rest):
            j = int(proba[k].argmax())
            rows.append({"id": r.id, "label": p.task.labels[j], "source": "small_model",
                         "confidence": float(proba[k, j])})
        return rows

    def run(self) -> list[dict[str, Any]]:
        p = self.project
        records = p.load_records()
        pool_records, test = split_records(records, self.test_split)
        pool = {r.id: r for r in pool_records}
        done = p.store.rounds(self.run_name)
        results = [res for _, _, _, res in done]
        labeled: dict[str, Any] = dict(done[-1][2]) if done else {}
        start = done[-1][1] + 1 if done else 0
        per_round = max(1, math.ceil((self.budget - self.seed_size) / self.rounds))
        for rnd in range(start, self.rounds + 1):
            if rnd == 0:
                rng = np.random.default_rng(self.seed)
                chosen = [pool_records[i].id for i in rng.permutation(len(pool_records))[: self.seed_size]]
            else:
                remaining = self.budget - len(labeled)
                if remaining <= 0:
                    break
                chosen = self._select(self._fit(pool, labeled), pool_records, labeled, min(per_round, remaining))
            if rnd == 0 and self.seed_from_gold:
                new, spend = {i: pool[i].gold for i in chosen}, {"calls": 0, "from_cache": 0, "errors": 0, "money": 0.0}
            else:
                new, spend = self._llm_labels([pool[i] for i in chosen])
            labeled.update(new)
            model = self._fit(pool, labeled)
            gold_known = [i for i in labeled if pool[i].gold is not None]
            result = {
                "run": self.run_name, "strategy": self.strategy, "seed": self.seed, "round": rnd,
                "llm_labels": len(labeled), "selected": len(chosen), **spend,
                "label_counts": {l: sum(v == l for v in labeled.values()) for l in p.task.labels},
                "llm_label_accuracy": (sum(labeled[i] == pool[i].gold for i in gold_known) / len(gold_known)
                                       if gold_known else None),
                "test": evaluate_by_domain(model, p.task, test),
            }
            p.store.put_round(self.run_name, rnd, labeled, result)
            results.append(result)
            self.on_round(result)
            if spend.get("stopped"):
                break
        return results
