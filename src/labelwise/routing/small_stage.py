"""A small model, or a committee of them, as the first and cheapest stage of a route.

It costs nothing per item, but it must be taught first: the next LLM stage (its *teacher*)
labels a random sample of the pool (``route.train_size`` items, paid through the engine, so a
rerun pays nothing), and the committee is fit on those labels. Its confidence is the soft
vote's top probability or margin, calibrated on gold like any stage. With ``route.continual``
the router feeds it the pool in batches and, after each, teaches it what the later stages
labeled for the items it forwarded (AutoAnnotator's continual fine-tuning on hard items), then
recalibrates its threshold on the same gold before the next batch.

Spec: ``committee`` (``route.committee_size`` members of the default small model: ``logreg``,
or the ``pair`` bi-encoder for pairs, which fine-tunes and so costs more per batch),
``committee:MODEL``, or ``small:MODEL`` (one model). Single-label tasks (classification, pairs).
"""
from __future__ import annotations

import random
from typing import Any, Sequence

import numpy as np

from ..errors import ConfigError
from ..loop_models import rounds_for, single_label_model
from ..models.base import make_small_model
from ..models.committee import Committee
from ..types import Record
from .confidence import margin, top_probability
from .stages import AnnotatorStage, StageLabels

SMALL_PREFIXES = ("committee", "small")


def is_small_spec(spec: str) -> bool:
    return spec.partition(":")[0] in SMALL_PREFIXES


class SmallModelStage:
    """``label`` is free; ``prepare`` buys the teacher's labels and fits; ``learn`` adds hard items."""

    def __init__(self, project: Any, spec: str, confidence: str, teacher: AnnotatorStage | None,
                 size: int, train_size: int, seed: int = 0) -> None:
        prefix, _, model = spec.partition(":")
        if project.task.kind in ("ner", "multilabel"):
            raise ConfigError(f"route stage '{spec}': small-model stages take single-label tasks (classification, "
                              f"pairs) for now; for {project.task.kind} start the route with an LLM stage",
                              field="route.stages")
        if teacher is None:
            raise ConfigError(f"route stage '{spec}' needs an LLM stage after it: that stage labels the items the "
                              f"small model learns from", field="route.stages")
        self.name = spec
        self.project = project
        self.kind = rounds_for(project.task)
        self.model, self.params = single_label_model(project.task, model or None)
        make_small_model(self.model, **self.params)  # an unknown name fails now, before anything is paid
        self.size = 1 if prefix == "small" else size
        self.teacher = teacher
        self.how = confidence
        self.train_size = train_size
        self.seed = seed
        self.committee: Committee | None = None
        self.trained_on = 0
        self.learned = 0

    def prepare(self, pool: Sequence[Record]) -> StageLabels:
        """The teacher labels ``train_size`` random pool items; the committee is fit on them."""
        picked = random.Random(self.seed + 7).sample(list(pool), min(self.train_size, len(pool)))
        out = self.teacher.label(picked)
        usable = [(r, lab) for r, lab in zip(picked, out.labels) if lab is not None]
        if len({lab for _, lab in usable}) < 2:
            out.stopped = out.stopped or (f"stage '{self.name}': its teacher '{self.teacher.name}' gave fewer than two "
                                          f"different labels on {len(picked)} items; nothing to learn")
            return out
        member = make_small_model(self.model, store=self.project.store, seed=self.seed, **self.params)
        self.committee = Committee(member, self.size, seed=self.seed).fit(
            self.kind.inputs([r for r, _ in usable]), [lab for _, lab in usable])
        self.trained_on = len(usable)
        return out

    def label(self, records: Sequence[Record]) -> StageLabels:
        if self.committee is None:
            raise RuntimeError(f"stage '{self.name}' is not trained; plan the route first")
        records = list(records)
        if not records:
            return StageLabels([], np.zeros(0))
        proba = self.kind._full(self.committee, self.committee.predict_proba(self.kind.inputs(records)))
        labels = [self.project.task.labels[int(j)] for j in proba.argmax(axis=1)]
        conf = top_probability(proba) if self.how == "top" else margin(proba)
        return StageLabels(labels, np.asarray(conf, dtype=float))

    def learn(self, records: Sequence[Record], labels: Sequence[Any]) -> None:
        """Continual learning: what later stages labeled for the items this stage forwarded."""
        pairs = [(r, lab) for r, lab in zip(records, labels) if lab is not None]
        if pairs and self.committee is not None:
            self.committee.update(self.kind.inputs([r for r, _ in pairs]), [lab for _, lab in pairs])
            self.learned += len(pairs)

    def close(self) -> None:
        pass
