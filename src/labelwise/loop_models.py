"""What the active-learning loop does with a small model, per task kind: its inputs, the pool
state a strategy reads, the test metrics and the labels it gives the rest of the pool.

``ClassifierRounds`` serves classification and pairs (one label per item); ``TaggerRounds``
serves NER (one tag per token, marginals from a CRF or token classifier); ``MultiLabelRounds``
serves multi-label classification (a set of labels per item, one yes/no small model per label).
The loop picks one by the task kind and stays wiring only.
"""
from __future__ import annotations

from typing import Any, Collection, Sequence

import numpy as np

from .errors import ConfigError
from .quality.classification_metrics import classification_report, multilabel_report
from .strategies import PoolState
from .types import Record


class ClassifierRounds:
    default_model = "logreg"
    default_strategy = "entropy"
    metric = "accuracy"

    def __init__(self, task: Any) -> None:
        self.task = task

    def check_strategy(self, strategy: str) -> None:
        """Refuse, before anything is bought, a strategy this kind cannot feed."""

    def wrap(self, model: Any) -> Any:
        """The small model the loop trains, built around the registered one it names. A model
        whose zero-shot base reads class texts (``label_texts``) gets the task's labels with
        their descriptions, so ``ci`` compares it with a real pretrained base."""
        if hasattr(model, "label_texts") and model.label_texts is None and isinstance(self.task.cfg.labels, dict):
            model.label_texts = {k: f"{k}: {v}" if v else k for k, v in self.task.cfg.labels.items()}
        return model

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

    def pool_state(self, model: Any, records: Sequence[Record], labeled: dict[str, Any],
                   needs: Collection[str] = ()) -> PoolState:
        """What the strategy reads (``needs``, its ``PoolState`` arrays): probabilities always."""
        X = self.inputs(records)
        proba = self._full(model, model.predict_proba(X))
        needs_base = "base_score" in needs
        return PoolState(
            ids=np.array([r.id for r in records]), labeled=np.array([r.id in labeled for r in records]),
            proba=proba, predicted=np.asarray(self.task.labels)[proba.argmax(1)],
            base_score=self._full(model, model.base_proba(X)) if needs_base else None,
            finetuned_score=proba if needs_base else None,
            embeddings=model.embed(X) if "embeddings" in needs else None)

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

    def confident_labels(self, model: Any, records: Sequence[Record], how: str = "top") -> tuple[list[Any], np.ndarray]:
        """A model's (or committee's soft vote's) label per item and how sure it is, as a route
        stage reports it: the top probability, or top-1 minus top-2 (``margin``)."""
        from .routing.confidence import margin, top_probability
        if not records:
            return [], np.zeros(0)
        proba = self._full(model, model.predict_proba(self.inputs(records)))
        conf = top_probability(proba) if how == "top" else margin(proba)
        return [self.task.labels[int(j)] for j in proba.argmax(axis=1)], np.asarray(conf, dtype=float)


class TaggerRounds(ClassifierRounds):
    default_model = "crf"
    default_strategy = "mean_token_entropy"
    metric = "f1"

    def inputs(self, records: Sequence[Record]) -> list[list[str]]:
        return [self.task.tokens(r) for r in records]

    def pool_state(self, model: Any, records: Sequence[Record], labeled: dict[str, Any],
                   needs: Collection[str] = ()) -> PoolState:
        X = self.inputs(records)
        return PoolState(
            ids=np.array([r.id for r in records]), labeled=np.array([r.id in labeled for r in records]),
            token_marginals=model.token_marginals(X),
            sequence_logprob=model.sequence_logprob(X) if "sequence_logprob" in needs else None,
            embeddings=model.embed([" ".join(x) for x in X]) if "embeddings" in needs else None)

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

    def confident_labels(self, model: Any, records: Sequence[Record], how: str = "top") -> tuple[list[Any], np.ndarray]:
        """Tags per sentence and the sentence's least sure token (its best tag's marginal, or
        best minus second: ``margin``), as the LLM's NER confidence is its least sure token."""
        from .routing.confidence import margin, min_token_confidence, top_probability
        if not records:
            return [], np.zeros(0)
        X = self.inputs(records)
        marginals = model.token_marginals(X)
        per_token = [np.asarray(top_probability(m) if how == "top" else margin(m), dtype=float).reshape(-1)
                     if len(m) else np.zeros(0) for m in marginals]
        return [tuple(t) for t in model.predict(X)], np.asarray(min_token_confidence(per_token), dtype=float)


class OneVsRest:
    """A multi-label small model from any single-label one: per label, a clone of ``base`` learns
    "yes"/"no" (does the item carry it?). A label that every bought item has, or none has, gets
    no model but its smoothed rate (yes + 1) / (n + 2): a label the LLM never gave yet stays
    possible, so uncertainty still sees it."""

    def __init__(self, base: Any, labels: Sequence[str]) -> None:
        self.base = base
        self.labels = tuple(labels)

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        return {"base": self.base, "labels": self.labels}

    def clone(self) -> "OneVsRest":
        return OneVsRest(self.base.clone(), self.labels)

    def fit(self, X: Sequence[Any], label_sets: Sequence[Sequence[str]]) -> "OneVsRest":
        X, sets = list(X), [set(s) for s in label_sets]
        if not X or len(X) != len(sets):
            raise ValueError(f"fit needs one label set per input and at least one input; got {len(X)}, {len(sets)}")
        self.models_: dict[str, Any] = {}
        self.rates_: dict[str, float] = {}
        for label in self.labels:
            y = ["yes" if label in s else "no" for s in sets]
            if len(set(y)) == 2:
                self.models_[label] = self.base.clone().fit(X, y)
            else:
                self.rates_[label] = (y.count("yes") + 1) / (len(y) + 2)
        self.classes_ = np.array(self.labels, dtype=object)
        return self

    def _proba(self, X: Sequence[Any], base: bool) -> np.ndarray:
        X = list(X)
        cols = []
        for label in self.labels:
            m = self.models_.get(label)
            if m is None:
                cols.append(np.full(len(X), self.rates_[label]))
            else:
                proba = np.asarray(m.base_proba(X) if base else m.predict_proba(X))
                cols.append(proba[:, list(m.classes_).index("yes")])
        return np.column_stack(cols) if cols else np.zeros((len(X), 0))

    def label_proba(self, X: Sequence[Any]) -> np.ndarray:
        """(n, n_labels): the probability that each item carries each label, schema order."""
        return self._proba(X, base=False)

    def base_label_proba(self, X: Sequence[Any]) -> np.ndarray:
        """The same from each label's base model (for conditional informativeness)."""
        return self._proba(X, base=True)

    def predict(self, X: Sequence[Any]) -> list[tuple[str, ...]]:
        """The labels with probability >= 0.5, in schema order (as the multi-label task parses)."""
        return [tuple(l for l, p in zip(self.labels, row) if p >= 0.5) for row in self.label_proba(X)]

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        return self.base.embed(texts)


class MultiLabelRounds(ClassifierRounds):
    """Multi-label classification: each label is a yes/no question, so the per-label
    probabilities are laid out as the token marginals of a "sentence" whose tokens are the
    labels, rows (P(yes), P(no)). The sentence strategies then mean what multi-label active
    learning uses: ``mean_token_entropy`` the mean per-label entropy (the default),
    ``max_token_entropy`` the most uncertain label, ``sequence_least_confidence``
    1 - P(best label set)."""

    default_model = "logreg"
    default_strategy = "mean_token_entropy"
    metric = "micro_f1"
    STRATEGIES = ("mean_token_entropy", "max_token_entropy", "sequence_least_confidence", "random",
                  "diversity", "committee", "ci")

    def check_strategy(self, strategy: str) -> None:
        if strategy not in self.STRATEGIES:
            raise ConfigError(f"strategy '{strategy}' needs one probability distribution over classes per item; a "
                              f"multi-label item has one yes/no probability per label. Use one of "
                              f"{', '.join(self.STRATEGIES)} (uncertainty = mean_token_entropy, the mean "
                              f"per-label entropy)", field="loop.strategy")

    def wrap(self, model: Any) -> OneVsRest:
        return OneVsRest(model, self.task.labels)

    def pool_state(self, model: Any, records: Sequence[Record], labeled: dict[str, Any],
                   needs: Collection[str] = ()) -> PoolState:
        X = self.inputs(records)
        P = model.label_proba(X)
        ci = "base_score" in needs
        return PoolState(
            ids=np.array([r.id for r in records]), labeled=np.array([r.id in labeled for r in records]),
            token_marginals=[np.column_stack([p, 1 - p]) for p in P],
            predicted=np.array(["|".join(t) for t in model.predict(X)], dtype=object),  # class balance: by label set
            finetuned_score=_tv_rows(P) if ci else None,
            base_score=_tv_rows(model.base_label_proba(X)) if ci else None,
            embeddings=model.embed(X) if "embeddings" in needs else None)

    def votes(self, model: Any, X: Sequence[Any]) -> np.ndarray:
        """One committee member's vote per item: the label set it predicts."""
        return np.array(["|".join(t) for t in model.predict(X)], dtype=object)

    def evaluate(self, model: Any, records: Sequence[Record]) -> dict[str, float]:
        m = multilabel_report([r.gold for r in records], model.predict(self.inputs(records)), self.task.labels)
        return {"micro_f1": m.get("micro_f1", 0.0), "macro_f1": m.get("macro_f1", 0.0),
                "accuracy": m.get("subset_accuracy", 0.0), "n": m["n"]}

    def label_counts(self, labels: Sequence[Any]) -> dict[str, int]:
        """Items carrying each label among the labels bought."""
        return {l: sum(l in set(v) for v in labels) for l in self.task.labels}

    def llm_label_quality(self, labels: Sequence[Any], gold: Sequence[Any]) -> float | None:
        """Micro-F1 of the LLM's label sets against gold."""
        return multilabel_report(list(gold), list(labels), self.task.labels).get("micro_f1") if gold else None

    def predict_rest(self, model: Any, records: Sequence[Record]) -> list[tuple[Any, float]]:
        """Label sets and the probability of that set (labels taken as independent)."""
        if not records:
            return []
        P = model.label_proba(self.inputs(records))
        return [(tuple(l for l, p in zip(self.task.labels, row) if p >= 0.5), float(np.maximum(row, 1 - row).prod()))
                for row in P]

    def confident_labels(self, model: Any, records: Sequence[Record], how: str = "top") -> tuple[list[Any], np.ndarray]:
        """Label sets (probability >= 0.5, schema order) and their least sure yes/no decision."""
        from .routing.confidence import label_set_confidence
        if not records:
            return [], np.zeros(0)
        P = np.asarray(model.label_proba(self.inputs(records)), dtype=float)
        sets = [tuple(l for l, p in zip(self.task.labels, row) if p >= 0.5) for row in P]
        return sets, np.asarray(label_set_confidence(P, how), dtype=float).reshape(-1)


def _tv_rows(P: np.ndarray) -> np.ndarray:
    """Per-label (p, 1 - p) pairs laid side by side and divided by the label count: rows that
    sum to 1 and whose total-variation distance is the mean per-label |p_finetuned - p_base|."""
    k = max(P.shape[1], 1)
    return np.stack([P, 1 - P], axis=2).reshape(P.shape[0], -1) / k


def rounds_for(task: Any) -> ClassifierRounds:
    """The loop's adapter for the task's kind (``TaskKind.rounds``)."""
    from .tasks.kinds import task_kind
    return task_kind(task.kind).rounds_class()(task)


def single_label_model(task: Any, name: str | None = None) -> tuple[str, dict[str, Any]]:
    """The small model (registered name, params) for a one-label-per-item task: ``name``, or
    the ``pair`` bi-encoder for pairs and ``logreg`` otherwise; the pair model scores "same or
    not", so the task's first label is its positive one."""
    name = name or ("pair" if task.kind == "pair" else ClassifierRounds.default_model)
    return name, ({"positive_label": task.labels[0]} if name == "pair" else {})

