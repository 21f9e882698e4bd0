"""A small model, or a committee of them, as the first and cheapest stage of a route.

It costs nothing per item, but it must be taught first: the next LLM stage (its *teacher*)
labels a random sample of the pool (``route.train_size`` items, paid through the engine, so a
rerun pays nothing), and the committee is fit on those labels. Its confidence is the soft
vote's top probability or margin, calibrated on gold like any stage. With ``route.continual``
the router feeds it the pool in batches and, after each, teaches it what the later stages
labeled for the items it forwarded (AutoAnnotator's continual fine-tuning on hard items), then
recalibrates its threshold on the same gold before the next batch.

Spec: ``committee`` (``route.committee_size`` members of the task kind's default small model:
``logreg`` for classification, the ``pair`` bi-encoder for pairs (it fine-tunes, so it costs
more per batch), the ``crf`` tagger for NER, one ``logreg`` per label for multi-label),
``committee:MODEL``, or ``small:MODEL`` (one model). The soft vote and its confidence per kind
come from the loop's adapter (``confident_labels``): a class's top probability or margin; for
NER the sentence's least sure token (as the LLM stage's NER confidence); for multi-label the
least sure yes/no decision.
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
from .stages import AnnotatorStage, StageLabels

SMALL_PREFIXES = ("committee", "small")


def is_small_spec(spec: str) -> bool:
    return spec.partition(":")[0] in SMALL_PREFIXES


class SmallModelStage:
    """``label`` is free; ``prepare`` buys the teacher's labels and fits; ``learn`` adds hard items."""

    def __init__(self, project: Any, spec: str, confidence: str, teacher: AnnotatorStage | None,
                 size: int, train_size: int, seed: int = 0) -> None:
        prefix, _, model = spec.partition(":")
        if teacher is None:
            raise ConfigError(f"route stage '{spec}' needs an LLM stage after it: that stage labels the items the "
                              f"small model learns from", field="route.stages")
        self.name = spec
        self.project = project
        self.kind = rounds_for(project.task)
        if project.task.kind in ("ner", "multilabel"):
            self.model, self.params = model or self.kind.default_model, {}
        else:
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
        member = self.kind.wrap(make_small_model(self.model, store=self.project.store, seed=self.seed, **self.params))
        self.committee = Committee(member, self.size, seed=self.seed).fit(
            self.kind.inputs([r for r, _ in usable]), [lab for _, lab in usable])
        self.trained_on = len(usable)
        return out

    def label(self, records: Sequence[Record]) -> StageLabels:
        if self.committee is None:
            raise RuntimeError(f"stage '{self.name}' is not trained; plan the route first")
        labels, conf = self.kind.confident_labels(self.committee, list(records), self.how)
        return StageLabels(labels, conf)

    def learn(self, records: Sequence[Record], labels: Sequence[Any]) -> None:
        """Continual learning: what later stages labeled for the items this stage forwarded."""
        pairs = [(r, lab) for r, lab in zip(records, labels) if lab is not None]
        if pairs and self.committee is not None:
            self.committee.update(self.kind.inputs([r for r, _ in pairs]), [lab for _, lab in pairs])
            self.learned += len(pairs)

    def close(self) -> None:
        pass
