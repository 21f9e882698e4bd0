"""Choose an annotator: run several on the same gold sample, K times each, and put quality,
consistency, speed and cost side by side.

Each annotator runs through the project's own engine (cache, budget, ledger), so its labels
are stored like any others: repeat ``r`` is a separate annotation per item, asked again rather
than replayed (the cache key carries the repeat). Nothing here prints; the CLI does.
"""
from __future__ import annotations

import importlib
import math
import random
from dataclasses import asdict, dataclass
from typing import Any, Callable, Hashable, Sequence

from .annotators.base import ANNOTATORS, Annotator, make_annotator
from .config import AnnotatorConfig
from .engine import RunSummary
from .errors import InputError
from .project import Project
from .quality.consistency import all_equal_share, fleiss_kappa, mean_pairwise_agreement
from .types import Annotation, Labeled, Record

HEADLINE_KEYS = ("accuracy", "micro_f1", "macro_f1", "token_accuracy")
ERROR = "<error>"  # a failed item is its own outcome when repeats are compared

# What repeats can show per backend: (short flag, why). Where they cannot differ, consistency
# measures nothing, and the table must say so.
REPEATS = {
    "llamacpp": ("deterministic", "llamacpp scores choices from the logits and generates greedily (extra samples "
                 "use fixed seeds), so every repeat gives the same answer whatever annotator.temperature is"),
    "fake": ("scripted", "the scripted backend answers whatever its script says"),
    "openai": ("may vary", "scored at temperature 0 where the server gives log-probabilities (repeats differ only "
               "by server nondeterminism); otherwise votes at annotator.temperature, with the same seeds each repeat"),
}


@dataclass(frozen=True)
class AnnotatorSpec:
    backend: str
    model: str

    @property
    def name(self) -> str:
        return f"{self.backend}:{self.model}"


def parse_spec(text: str) -> AnnotatorSpec:
    """``backend:model`` (split at the first colon, so ``fake:constant:neg`` keeps its model)."""
    backend, sep, model = text.strip().partition(":")
    if not sep or not backend or not model:
        raise InputError(f"--annotator '{text}': expected BACKEND:MODEL, e.g. llamacpp:smollm2-135m-instruct "
                         "or openai:gpt-4o-mini")
    for module in ("fake", "llamacpp", "openai"):  # importing a backend registers it
        importlib.import_module(f"{__package__}.annotators.{module}")
    if backend not in ANNOTATORS:
        raise InputError(f"--annotator '{text}': unknown backend '{backend}'; choose one of "
                         f"{', '.join(sorted(ANNOTATORS))}")
    return AnnotatorSpec(backend, model)


def sample_gold(records: Sequence[Record], n: int | None, seed: int = 0) -> list[Record]:
    """A seeded choice of ``n`` records with gold, in data order (all of them without ``n``).
    Without any gold, records are drawn from all: consistency and cost need no gold."""
    gold = [r for r in records if r.gold is not None] or list(records)
    if n is None or n >= len(gold):
        return gold
    keep = set(random.Random(seed).sample(range(len(gold)), n))
    return [r for i, r in enumerate(gold) if i in keep]


def _nan_to_none(x: float) -> float | None:
    return None if x is None or (isinstance(x, float) and math.isnan(x)) else x


def consistency(rows: Sequence[Sequence[Any]]) -> dict[str, Any]:
    """All-equal share, mean pairwise agreement and (single-label only) Fleiss' kappa."""
    out: dict[str, Any] = {"items": len(rows), "repeats": len(rows[0]) if rows else 0,
                           "all_equal": _nan_to_none(all_equal_share(rows)),
                           "pairwise": _nan_to_none(mean_pairwise_agreement(rows)), "fleiss_kappa": None}
    if rows and len(rows[0]) >= 2 and all(isinstance(x, str) for r in rows for x in r):
        out["fleiss_kappa"] = _nan_to_none(fleiss_kappa(rows))
    return out


def _outcome(a: Annotation) -> Hashable:
    return ERROR if a.error else a.label


def _per_item(anns: Sequence[Annotation], what: Callable[[Annotation], float]) -> float | None:
    return sum(what(a) for a in anns) / len(anns) if anns else None


@dataclass
class AnnotatorResult:
    annotator: str
    annotator_id: str
    items: int
    repeats_done: int
    metrics: dict[str, Any]
    headline: dict[str, Any] | None
    error_share: float | None
    consistency: dict[str, Any]
    repeats_kind: str
    repeats_note: str | None
    seconds_per_item: float | None
    tokens_per_item: float | None
    cost_per_item: float | None
    cost_per_1000: float | None
    runs: list[dict[str, Any]]
    stopped: str | None = None


def _evaluate(spec: AnnotatorSpec, sub: Project, records: Sequence[Record], by_repeat: list[dict[str, Annotation]],
              runs: list[RunSummary]) -> AnnotatorResult:
    first = [by_repeat[0][r.id] for r in records if by_repeat and r.id in by_repeat[0]]
    ok = [a for a in first if a.error is None]
    gold = {r.id: r.gold for r in records}
    metrics = sub.task.metrics([gold[a.record_id] for a in ok], [Labeled(a.label, a.distribution) for a in ok])
    key = next((k for k in HEADLINE_KEYS if isinstance(metrics.get(k), (int, float))), None)
    rows = [[rep[r.id] for rep in by_repeat] for r in records if all(r.id in rep for rep in by_repeat)]
    every = [a for rep in by_repeat for a in rep.values()]
    priced = sub.price() is not None
    repeats_kind, repeats_note = REPEATS.get(spec.backend, ("may vary", None))
    cost = _per_item(every, lambda a: a.cost) if priced else None
    return AnnotatorResult(
        annotator=spec.name, annotator_id=sub.annotator.id, items=len(first), repeats_done=len(by_repeat),
        metrics=metrics, headline={"name": key, "value": metrics[key]} if key else None,
        error_share=_per_item(every, lambda a: float(a.error is not None)),
        consistency=consistency([[_outcome(a) for a in row] for row in rows]),
        repeats_kind=repeats_kind, repeats_note=repeats_note,
        seconds_per_item=_per_item(every, lambda a: a.latency_s),
        tokens_per_item=_per_item(every, lambda a: a.prompt_tokens + a.completion_tokens),
        cost_per_item=cost, cost_per_1000=None if cost is None else 1000 * cost,
        runs=[{"repeat": i, "calls": s.calls, "from_cache": s.from_cache, "already_done": s.already_done,
               "annotated": s.annotated, "errors": s.errors, "failed": s.failed, "seconds": s.seconds,
               "money": s.money, "stopped": s.stopped} for i, s in enumerate(runs)],
        stopped=next((s.stopped for s in runs if s.stopped), None))


def compare_annotators(project: Project, specs: Sequence[str] = (), sample: int | None = None,
                       repeats: int = 3, seed: int = 0, vary_examples: bool = False,
                       make: Callable[[AnnotatorConfig], Annotator] = make_annotator,
                       on_run: Callable[[str, int, RunSummary], None] = lambda name, r, s: None) -> dict[str, Any]:
    """Run each ``backend:model`` (default: the project's annotator) ``repeats`` times on a
    seeded gold sample; return one result per annotator plus the sample it saw.

    ``vary_examples``: repeat 0 uses the configured few-shot examples, repeat r >= 1 draws k
    random ones with seed r -- consistency under a change of examples, which is what repeats
    can measure for a deterministic backend."""
    if repeats < 1:
        raise InputError("--repeats must be at least 1")
    fs_cfg = project.config.few_shot
    if vary_examples and (fs_cfg.mode == "none" or fs_cfg.k == 0):
        raise InputError("--vary-examples needs few-shot examples (few_shot.mode and few_shot.k in the config)")
    base = project.config.annotator
    parsed = [parse_spec(s) for s in specs] or [AnnotatorSpec(base.backend, base.model)]
    parsed = list(dict.fromkeys(parsed))
    records = sample_gold(project.load_records(), sample, seed)
    results = []
    for spec in parsed:
        sub = project.with_annotator(spec.backend, spec.model,
                                     annotator=make(base.model_copy(update={"backend": spec.backend, "model": spec.model})))
        cfg = sub.config
        runs: list[RunSummary] = []
        by_repeat: list[dict[str, Annotation]] = []
        for r in range(repeats):
            if vary_examples:
                fs = fs_cfg if r == 0 else fs_cfg.model_copy(update={"mode": "random", "seed": fs_cfg.seed + r})
                sub.config = cfg.model_copy(update={"few_shot": fs})
            s = sub.run(list(records), repeat=r)
            runs.append(s)
            by_repeat.append(sub.current_annotations(list(records), repeat=r))  # as this repeat asked
            on_run(spec.name, r, s)
            if s.stopped:
                break
        result = _evaluate(spec, sub, records, by_repeat, runs)
        if vary_examples:
            result.repeats_kind = "examples varied"
            result.repeats_note = (f"repeat 0 used the configured few-shot examples, repeats 1-{repeats - 1} "
                                   f"{fs_cfg.k} random ones each (seeds {fs_cfg.seed + 1}..{fs_cfg.seed + repeats - 1})")
        results.append(result)
        unload = getattr(sub.annotator, "unload", None)
        if callable(unload):  # free an in-process model before the next one loads
            unload()
    return {"task": project.task.kind, "sample": len(records), "with_gold": sum(r.gold is not None for r in records),
            "sample_ids": [r.id for r in records], "seed": seed, "repeats": repeats, "vary_examples": vary_examples,
            "annotators": [asdict(r) for r in results]}
