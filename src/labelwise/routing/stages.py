"""The stages of a route: an annotator asked through the engine, or people.

A stage labels records and says how sure it is of each label; it never decides who keeps an
item (that is the router's threshold). Every paid question goes through the project's engine:
cache, budget, ledger, resume after a kill.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import numpy as np

from ..errors import ConfigError
from ..types import Record
from .confidence import label_set_confidence, margin, min_token_confidence, top_probability

HUMAN = "human"


@dataclass
class StageLabels:
    labels: list[Any]         # None where the stage gave no label (an error)
    confidence: np.ndarray    # 0 where it gave none
    calls: int = 0
    money: float = 0.0
    stopped: str | None = None


def confidence_of(distribution: Mapping[str, Any] | None, how: str, multilabel: bool = False) -> float:
    """How sure a stored annotation is: the top probability or the top-1 minus top-2 margin of a
    scored distribution; for NER the lowest token confidence of the sentence; for multilabel
    (one yes/no probability per label) its least sure decision, as max(p, 1 - p) or |2p - 1|."""
    if not distribution:
        return 0.0
    if "token_confidence" in distribution:
        return float(min_token_confidence(distribution["token_confidence"]))
    probs = {k: v for k, v in distribution.items() if isinstance(v, (int, float))}
    if not probs:
        return 0.0
    if multilabel:
        return float(label_set_confidence(list(probs.values()), how))
    return float(top_probability(probs) if how == "top" else margin(probs))


class AnnotatorStage:
    """An LLM (any backend the config can name) as one stage."""

    def __init__(self, project: Any, spec: str, confidence: str = "margin", annotator: Any = None) -> None:
        backend, sep, model = spec.partition(":")
        if not sep or not model:
            raise ConfigError(f"route stage '{spec}': expected BACKEND:MODEL or 'human'", field="route.stages")
        self.name = spec
        self.project = project.with_annotator(backend, model, annotator=annotator)
        self.how = confidence
        self.multilabel = project.task.kind == "multilabel"

    def label(self, records: Sequence[Record]) -> StageLabels:
        s = self.project.run(list(records))
        current = self.project.current_annotations(list(records))
        labels, conf = [], []
        for r in records:
            a = current.get(r.id)
            ok = a is not None and a.error is None
            labels.append(a.label if ok else None)
            conf.append(confidence_of(a.distribution, self.how, self.multilabel) if ok else 0.0)
        return StageLabels(labels, np.asarray(conf, dtype=float), s.calls, s.money, s.stopped)

    def close(self) -> None:
        unload = getattr(self.project.annotator, "unload", None)
        if callable(unload):  # free an in-process model before the next stage loads its own
            unload()


def make_stages(project: Any, specs: Sequence[str], confidence: str,
                annotators: Mapping[str, Any] | None = None) -> list[Any]:
    """The configured stages in order: a small-model stage may only come first (it learns from
    the LLM stage after it), ``human`` only last."""
    from .small_stage import SmallModelStage, is_small_spec
    if not specs:
        raise ConfigError("route.stages is empty: name the annotators to try, cheapest first, e.g. "
                          "[llamacpp:qwen2.5-coder-0.5b-instruct, llamacpp:qwen2.5-coder-1.5b-instruct, human]",
                          field="route.stages")
    rc = project.config.route
    out: list[Any] = []
    for i, spec in enumerate(specs):
        if spec == HUMAN:
            if i != len(specs) - 1:
                raise ConfigError("'human' must be the last route stage: people take what no model may label",
                                  field="route.stages")
            out.append(HUMAN)
        elif is_small_spec(spec):
            if i != 0:
                raise ConfigError(f"route stage '{spec}': a small-model stage must come first (it is the cheapest, "
                                  f"and it learns from the LLM stage after it)", field="route.stages")
            out.append(spec)  # built below, once its teacher exists
        else:
            out.append(AnnotatorStage(project, spec, confidence, (annotators or {}).get(spec)))
    if out and isinstance(out[0], str) and out[0] != HUMAN:
        teacher = out[1] if len(out) > 1 and isinstance(out[1], AnnotatorStage) else None
        out[0] = SmallModelStage(project, out[0], confidence, teacher, rc.committee_size, rc.train_size, rc.seed)
    return out
