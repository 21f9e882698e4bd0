"""The route: gold calibrates one threshold per stage, then every item is labeled by the first
stage whose confidence in it clears that stage's threshold; people get what no stage may label.

Planning asks each stage about the gold items earlier stages did not accept, so each threshold
is calibrated on exactly the kind of items that stage will see. A share of the gold is held out
and never used for calibration, to report each stage's accuracy on items it did not tune on.
A stage with no safe threshold is not asked about the pool at all (it would be paid for
labels nobody may keep), unless it is the last one and no people follow: then it labels the
rest, marked as not certified.

People's answers (the review page, an import) are read like any annotator's: an item people
already labeled takes their majority label (stage ``human``) and no model is asked about it;
only what nobody has answered yet is queued for them. With a ``human`` stage the plan measures
people's accuracy on the gold that reaches them, so the report shows what their labels are worth.
"""
from __future__ import annotations

import hashlib
import json
import math
import random
from dataclasses import asdict, dataclass, field
from typing import Any, Sequence

import numpy as np

from ..data.readers import read_records
from ..errors import LabelwiseError
from ..quality.classification_metrics import wilson_interval
from ..quality.gold_watch import same_label
from ..review.answers import people_majority
from ..types import Record
from .small_stage import SmallModelStage
from .stages import HUMAN
from .thresholds import ThresholdResult, calibrate_threshold, keep_top_share, risk_coverage

GOLD = "gold"


@dataclass
class StagePlan:
    stage: str
    gold_offered: int                 # calibration gold items this stage was asked about
    threshold: ThresholdResult | None  # None for people
    holdout_offered: int = 0
    holdout_accepted: int = 0
    holdout_accuracy: float | None = None
    calls: int = 0
    money: float = 0.0
    stopped: str | None = None  # the budget (or the backend) stopped this stage's gold questions
    delta: float | None = None  # this stage's level: route.delta, split over the batches of a continual stage
    batches: int = 1
    trained_on: int = 0         # small-model stage: teacher labels it was fit on
    calibration_ids: list[str] = field(default_factory=list, repr=False)  # the gold it was calibrated on
    risk_coverage: list[list[float]] = field(default_factory=list, repr=False)  # [threshold, coverage, risk]
    holdout_correct: int = 0  # held-out gold items it accepted and got right
    people_gold: dict[str, Any] | None = None  # people: gold reaching them that they answered, correct, interval
    holdout_offered_correct: int = 0  # held-out gold items offered to it that it got right, kept or not

    @property
    def holdout_offered_accuracy(self) -> float | None:
        """Its accuracy on every held-out gold item offered to it (what labeling them all would
        give): for the first stage, the single annotator's accuracy on the held-out gold."""
        if self.threshold is None or not self.holdout_offered:  # people, or a stage stopped before answering
            return None
        return self.holdout_offered_correct / self.holdout_offered

    def as_json(self) -> dict[str, Any]:
        d = asdict(self)
        d.pop("calibration_ids")
        return d


@dataclass
class RouteResult:
    run: str
    plan: list[StagePlan]
    labeled: dict[str, int] = field(default_factory=dict)   # stage -> items it labeled (certified or not)
    certified: int = 0
    uncertified: int = 0
    queued_for_people: int = 0
    from_gold: int = 0
    from_people: int = 0   # pool items people had already labeled (their majority label, certified)
    unrouted: int = 0
    stopped: str | None = None
    batches: list[dict[str, Any]] = field(default_factory=list)  # continual small-model stage, per batch
    calls: dict[str, int] = field(default_factory=dict)      # stage -> answers paid while labeling the pool
    money: dict[str, float] = field(default_factory=dict)
    pool: int = 0

    def paid(self, stage: str, out: Any) -> None:
        """Add what a stage's answers cost (its StageLabels) to this run's totals."""
        self.calls[stage] = self.calls.get(stage, 0) + out.calls
        self.money[stage] = self.money.get(stage, 0.0) + out.money

    def as_json(self) -> dict[str, Any]:
        d = {k: v for k, v in asdict(self).items() if k != "plan"}
        return {**d, "plan": [p.as_json() for p in self.plan]}


def route_name(project: Any) -> str:
    """A route run is named by everything that decides who labels what."""
    rc = project.config.route
    key = json.dumps({"stages": rc.stages, "target": rc.target_accuracy, "delta": rc.delta, "gold": rc.gold,
                      "gold_sample": rc.gold_sample, "holdout": rc.holdout, "min": rc.min_accepted,
                      "confidence": rc.confidence, "seed": rc.seed, "template": project.task.template_hash, "rule": rc.rule,
                      "small": [rc.train_size, rc.committee_size, rc.continual, rc.batch_size]},
                     sort_keys=True)
    return "route/" + hashlib.sha256(key.encode()).hexdigest()[:12]


def gold_records(project: Any) -> list[Record]:
    """The gold the route calibrates on: the route.gold file, else the data's rows with gold."""
    rc, d = project.config.route, project.config.data
    if rc.gold:
        gold = read_records(project.config.resolve(rc.gold), input_fields=project.task.input_fields,
                            id_field=d.id_field, label_field=d.label_field or "label",
                            normalize_gold=project.normalize_gold)
    else:
        gold = [r for r in project.read_data() if r.gold is not None]
    gold = [r for r in gold if r.gold is not None]
    if rc.gold_sample is not None and rc.gold_sample < len(gold):
        keep = set(random.Random(rc.seed).sample(range(len(gold)), rc.gold_sample))
        gold = [r for i, r in enumerate(gold) if i in keep]
    return gold


def split_gold(gold: Sequence[Record], holdout: float, seed: int) -> tuple[list[Record], list[Record]]:
    idx = list(range(len(gold)))
    random.Random(seed + 1).shuffle(idx)
    n_held = int(round(holdout * len(gold)))
    held = set(idx[:n_held])
    return [r for i, r in enumerate(gold) if i not in held], [r for i, r in enumerate(gold) if i in held]


Row = tuple[str, str, Any, float | None, bool]  # record id, stage, label, confidence, certified


def _gold_rows_and_pool(project: Any, gold: Sequence[Record]) -> tuple[list[Row], list[Record]]:
    """The data's gold items as routed rows (their own label, certified) and the rest: the pool."""
    gold_ids = {r.id for r in gold}
    data = project.read_data()
    return [(r.id, GOLD, r.gold, 1.0, True) for r in data if r.id in gold_ids], \
        [r for r in data if r.id not in gold_ids]


def _people_rows(project: Any, records: Sequence[Record]) -> list[Row]:
    """Rows for the records people already labeled: their majority label, certified (people are
    the route's last word), confidence = the share of reviewers who agreed."""
    verdicts = people_majority(project.people_labels({r.id for r in records}))
    return [(r.id, HUMAN, verdicts[r.id].label, verdicts[r.id].agreement, True) for r in records if r.id in verdicts]


def people_gold_accuracy(project: Any, gold: Sequence[Record]) -> dict[str, Any]:
    """People's majority label against these gold items, where they answered them; and each
    reviewer's own answers against them (``per_reviewer``: who is worth their price)."""
    people = project.people_labels({r.id for r in gold})
    verdicts = people_majority(people)
    sets = _as_sets(project)
    out = _accuracy_of({rid: v.label for rid, v in verdicts.items()}, gold, sets)
    out["offered"] = len(gold)
    out["per_reviewer"] = {name: _accuracy_of(labels, gold, sets) for name, labels in sorted(people.items())}
    return out


def _accuracy_of(labels: dict[str, Any], gold: Sequence[Record], as_sets: bool = False) -> dict[str, Any]:
    answered = [r for r in gold if r.id in labels]
    correct = int(_correct([labels[r.id] for r in answered], answered, as_sets).sum())
    lo, hi = wilson_interval(correct, len(answered)) if answered else (None, None)
    return {"answered": len(answered), "correct": correct, "accuracy": correct / len(answered) if answered else None,
            "ci95": [lo, hi]}


def _stage_delta(project: Any, stage: Any, pool_size: int) -> tuple[float, int]:
    """(level, batches): a continual small-model stage recalibrates before each batch, so its
    delta is split over them (a union bound keeps the stage's overall level at route.delta)."""
    rc = project.config.route
    if isinstance(stage, SmallModelStage) and rc.continual:
        batches = max(1, math.ceil(pool_size / rc.batch_size))
        return rc.delta / batches, batches
    return rc.delta, 1


def _as_sets(project: Any) -> bool:
    """Multi-label answers are sets: the task writes them in schema order, gold comes sorted."""
    return project.task.kind == "multilabel"


def _correct(labels: Sequence[Any], records: Sequence[Record], as_sets: bool = False) -> np.ndarray:
    # same_label: a list label (people's answers come back as lists) equals its tuple gold
    return np.array([lab is not None and same_label(lab, r.gold, as_sets) for lab, r in zip(labels, records)], bool)


def plan_route(project: Any, stages: Sequence[Any]) -> list[StagePlan]:
    rc = project.config.route
    gold = gold_records(project)
    calib, held = split_gold(gold, rc.holdout, rc.seed)
    pool = _gold_rows_and_pool(project, gold)[1]
    sets = _as_sets(project)
    plans: list[StagePlan] = []
    for stage in stages:
        if stage == HUMAN:
            plans.append(StagePlan(HUMAN, len(calib), None, len(held),
                                   people_gold=people_gold_accuracy(project, calib + held)))
            break
        calls = money = 0
        if isinstance(stage, SmallModelStage):
            taught = stage.prepare(pool)  # the teacher's labels, through the engine
            calls, money = taught.calls, taught.money
            if taught.stopped:
                plans.append(StagePlan(stage.name, len(calib), None, len(held), calls=calls, money=money,
                                       stopped=taught.stopped))
                break
        delta, batches = _stage_delta(project, stage, len(pool))
        out = stage.label(calib + held)  # one run through the engine; calibration and held-out apart below
        n = len(calib)
        c_conf, h_conf = out.confidence[:n], out.confidence[n:]
        c_ok, h_ok = _correct(out.labels[:n], calib, sets), _correct(out.labels[n:], held, sets)
        res = calibrate_threshold(c_conf, c_ok, rc.target_accuracy, delta, rc.min_accepted)
        c_acc, h_acc = res.accept(c_conf), res.accept(h_conf)
        plans.append(StagePlan(stage.name, len(calib), res, len(held), int(h_acc.sum()),
                               float(h_ok[h_acc].mean()) if h_acc.any() else None, calls + out.calls,
                               money + out.money, out.stopped, delta, batches,
                               getattr(stage, "trained_on", 0), [r.id for r in calib],
                               risk_coverage(c_conf, c_ok, max_points=80).tolist(), int(h_ok[h_acc].sum()),
                               holdout_offered_correct=int(h_ok.sum())))
        calib = [r for r, a in zip(calib, c_acc) if not a]
        held = [r for r, a in zip(held, h_acc) if not a]
        if out.stopped:
            break
    return plans


def _through_chain(records: list[Record], machine: Sequence[tuple[Any, ThresholdResult | None]],
                   people_follow: bool, result: RouteResult) -> tuple[list[Row], list[Record]]:
    """Label ``records`` with the first machine stage that may keep each; (rows, what is left)."""
    rows: list[Row] = []
    remaining = records
    for i, (stage, threshold) in enumerate(machine):
        last = i == len(machine) - 1 and not people_follow
        safe = threshold is not None and threshold.threshold is not None
        if not remaining or (not safe and not last):
            continue
        out = stage.label(remaining)
        accept = (threshold.accept(out.confidence) if safe else np.zeros(len(remaining), bool)) & \
            np.array([lab is not None for lab in out.labels], bool)
        kept = [(r.id, stage.name, lab, float(c), True)
                for r, lab, c, a in zip(remaining, out.labels, out.confidence, accept) if a]
        if last:  # nobody after it: it labels the rest too, not certified
            kept += [(r.id, stage.name, lab, float(c), False)
                     for r, lab, c, a in zip(remaining, out.labels, out.confidence, accept) if not a and lab is not None]
        rows += kept
        result.labeled[stage.name] = result.labeled.get(stage.name, 0) + len(kept)
        result.paid(stage.name, out)
        done = {k[0] for k in kept}
        remaining = [r for r in remaining if r.id not in done]
        if out.stopped:
            result.stopped = out.stopped
            break
    return rows, remaining


def _recalibrated(project: Any, stage: SmallModelStage, plan: StagePlan, gold: Sequence[Record]) -> ThresholdResult:
    """The small stage's threshold for its model as it is now, on the gold it was planned on."""
    rc = project.config.route
    by_id = {r.id: r for r in gold}
    calib = [by_id[i] for i in plan.calibration_ids if i in by_id]
    out = stage.label(calib)
    return calibrate_threshold(out.confidence, _correct(out.labels, calib, _as_sets(project)), rc.target_accuracy,
                               plan.delta if plan.delta is not None else rc.delta, rc.min_accepted)


def run_route(project: Any, stages: Sequence[Any], plans: Sequence[StagePlan]) -> RouteResult:
    """Label every record of the data file through the planned stages; store who labeled what."""
    unfinished = next((p for p in plans if p.stopped), None)
    if unfinished is not None or len(plans) < len(stages):
        raise LabelwiseError(f"the route plan is incomplete ({unfinished.stopped if unfinished else 'a stage is missing'}); "
                             "raise the budget and plan again: a partial plan would leave stages out")
    rc = project.config.route
    run = route_name(project)
    gold = gold_records(project)
    rows, pool = _gold_rows_and_pool(project, gold)
    result = RouteResult(run, list(plans), from_gold=len(rows), pool=len(pool))
    by_people = _people_rows(project, pool)
    result.from_people = len(by_people)
    people_said = {row[0]: row[2] for row in by_people}
    by_people_records = [r for r in pool if r.id in people_said]
    pool = [r for r in pool if r.id not in people_said]
    rows += by_people
    people_follow = bool(plans) and plans[-1].stage == HUMAN
    machine = [(s, p.threshold) for s, p in zip(stages, plans) if s != HUMAN]
    left: list[Record] = []
    first = machine[0][0] if machine else None
    if isinstance(first, SmallModelStage) and rc.continual:
        for b, start in enumerate(range(0, len(pool), rc.batch_size)):
            batch = pool[start:start + rc.batch_size]
            threshold = plans[0].threshold if b == 0 else _recalibrated(project, first, plans[0], gold)
            got, rest = _through_chain(batch, [(first, threshold)] + machine[1:], people_follow, result)
            rows += got
            left += rest
            taught = [(r, row[2]) for r, row in _by_record(batch, got) if row[1] != first.name]
            if b == 0:  # what people labeled teaches it too (after the first batch: that one's threshold was planned)
                taught += [(r, people_said[r.id]) for r in by_people_records]
            first.learn([r for r, _ in taught], [lab for _, lab in taught])
            result.batches.append({"batch": b, "items": len(batch), "threshold": threshold.threshold,
                                   "kept": sum(1 for row in got if row[1] == first.name), "learned": len(taught)})
            if result.stopped:
                break
    else:
        got, left = _through_chain(pool, machine, people_follow, result)
        rows += got
    if people_follow and left and not result.stopped:
        result.queued_for_people = len(left)
        project.store.queue_for_review(run, [r.id for r in left], "no stage could certify a label")
        left = []
    project.store.put_routed(run, rows)
    result.certified = sum(1 for r in rows if r[4])
    result.uncertified = sum(1 for r in rows if not r[4])
    result.unrouted = len(pool) - (len(rows) - result.from_gold - result.from_people) - result.queued_for_people
    return result


def _by_record(records: Sequence[Record], rows: Sequence[Row]) -> list[tuple[Record, Row]]:
    got = {row[0]: row for row in rows}
    return [(r, got[r.id]) for r in records if r.id in got]


def run_quantile_route(project: Any, stages: Sequence[Any]) -> RouteResult:
    """The LLM Chain Ensembles baseline: stage j keeps the most confident 1 / (stages left) of
    what reaches it, by rank (so differently scaled confidences compare), the last takes the
    rest. No gold is used and nothing is certified; people get nothing. A small-model stage is
    taught by its teacher first, as in the calibrated route."""
    machine = [s for s in stages if s != HUMAN]
    if not machine:
        raise LabelwiseError("the quantile rule needs at least one model stage")
    run = route_name(project)
    rows, remaining = _gold_rows_and_pool(project, gold_records(project))
    result = RouteResult(run, [StagePlan(s.name, 0, None) for s in machine], from_gold=len(rows), pool=len(remaining))
    for j, stage in enumerate(machine):
        if isinstance(stage, SmallModelStage):
            taught = stage.prepare(remaining)
            result.paid(stage.teacher.name, taught)
            if taught.stopped:
                result.stopped = taught.stopped
                break
        if not remaining:
            break
        out = stage.label(remaining)
        has = np.array([lab is not None for lab in out.labels], bool)
        keep = has if j == len(machine) - 1 else keep_top_share(np.where(has, out.confidence, -np.inf),
                                                                  1.0 / (len(machine) - j)) & has
        rows += [(r.id, stage.name, lab, float(c), False)
                 for r, lab, c, k in zip(remaining, out.labels, out.confidence, keep) if k]
        result.labeled[stage.name] = int(keep.sum())
        result.paid(stage.name, out)
        remaining = [r for r, k in zip(remaining, keep) if not k]
        if out.stopped:
            result.stopped = out.stopped
            break
    project.store.put_routed(run, rows)
    result.certified = result.from_gold
    result.uncertified = len(rows) - result.from_gold
    result.unrouted = len(remaining)
    return result
