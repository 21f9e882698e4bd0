"""`labelwise check`: before spending on the whole pool, a small gold run per candidate
configuration (model, few-shot mode, calibration), each with its accuracy, exact bounds, ECE,
seconds and money per item, a verdict against the target, and the configuration to use.

Every candidate asks through the engine (cache, budget, ledger), so what `check` paid for is
reused when `annotate` later runs the chosen configuration. A verdict is one of: *meets* (the
lower bound is at or above the target), *below* (the upper bound is under it), or *undecided*
(the interval straddles it: more gold would tell).
"""
from __future__ import annotations

import itertools
import random
from dataclasses import dataclass
from typing import Any, Sequence

from ..errors import ConfigError
from ..types import Labeled, Record
from .gold_watch import accuracy_bounds, same_label


@dataclass(frozen=True)
class Candidate:
    backend: str
    model: str
    few_shot: str     # none | fixed | random | nearest
    calibrate: bool

    @property
    def name(self) -> str:
        return f"{self.backend}:{self.model} few_shot={self.few_shot}{' calibrated' if self.calibrate else ''}"


def candidates(project: Any, models: Sequence[str], few_shot: Sequence[str], calibrate: Sequence[bool]) -> list[Candidate]:
    """Every combination; a model is BACKEND:MODEL or a model name for the project's backend."""
    a = project.config.annotator
    out = []
    for m, fs, cal in itertools.product(models or [f"{a.backend}:{a.model}"], few_shot or [project.config.few_shot.mode],
                                        calibrate or [a.calibrate]):
        backend, sep, model = m.partition(":")
        out.append(Candidate(backend, model, fs, cal) if sep else Candidate(a.backend, m, fs, cal))
    for c in out:
        if c.few_shot != "none" and not project.config.few_shot.path:
            raise ConfigError(f"few-shot mode '{c.few_shot}' needs few_shot.path in labelwise.yaml", field="few_shot.path")
    return out


def gold_sample(records: Sequence[Record], n: int, seed: int = 0) -> list[Record]:
    gold = [r for r in records if r.gold is not None]
    if not gold:
        raise ConfigError("no gold items: give --gold FILE, set gold.path, or have a label column in the data",
                          field="gold.path")
    return random.Random(seed).sample(gold, min(n, len(gold)))


def verdict(lower: float, upper: float, target: float | None) -> str:
    if target is None:
        return "-"
    return "meets" if lower >= target else "below" if upper < target else "undecided"


def check_candidate(project: Any, cand: Candidate, gold: Sequence[Record], target: float | None,
                    delta: float) -> dict[str, Any]:
    """One candidate's gold run (through the engine) and its figures."""
    cfg = project.config
    a = cfg.annotator.model_copy(update={"backend": cand.backend, "model": cand.model, "calibrate": cand.calibrate})
    sub = project.variant(cfg.model_copy(update={"annotator": a, "few_shot": cfg.few_shot.model_copy(
        update={"mode": cand.few_shot})}))
    s = sub.run(list(gold), watch_gold=False)
    current = sub.current_annotations(list(gold))
    unload = getattr(sub.annotator, "unload", None)
    if callable(unload):
        unload()
    anns = [current[r.id] for r in gold if r.id in current]
    by_id = {r.id: r for r in gold}
    multi = project.task.kind == "multilabel"
    right = sum(a.error is None and same_label(a.label, by_id[a.record_id].gold, multi) for a in anns)
    ok = [a for a in anns if a.error is None]
    m = project.task.metrics([by_id[a.record_id].gold for a in ok], [Labeled(a.label, a.distribution) for a in ok]) \
        if ok else {}
    n = len(anns)
    lo, hi = accuracy_bounds(right, n, delta)
    return {"candidate": cand.name, "n": n, "accuracy": right / n if n else None, "lower": lo, "upper": hi,
            "verdict": verdict(lo, hi, target), "errors": n - len(ok),
            "ece": (m.get("calibration") or {}).get("ece"),
            "seconds_per_item": sum(a.latency_s for a in anns) / n if n else None,
            "money_per_item": sum(a.cost for a in anns) / n if n else None,
            "calls": s.calls, "stopped": s.stopped}


def recommend(rows: Sequence[dict[str, Any]]) -> tuple[dict[str, Any] | None, str]:
    """The cheapest candidate that meets the target (money, then seconds); else the most accurate."""
    done = [r for r in rows if r["n"]]
    if not done:
        return None, "no candidate could be scored"
    meets = [r for r in done if r["verdict"] == "meets"]
    if meets:
        best = min(meets, key=lambda r: (r["money_per_item"] or 0.0, r["seconds_per_item"] or 0.0, -r["accuracy"]))
        return best, f"{best['candidate']}: the cheapest shown to meet the target"
    best = max(done, key=lambda r: (r["lower"], r["accuracy"]))
    if best["verdict"] == "-":
        return best, f"{best['candidate']}: the highest lower bound (no target given)"
    return best, (f"none is shown to meet the target; {best['candidate']} has the highest lower bound "
                  f"({best['lower']:.1%}); label more gold to decide, or change the model or prompt")
