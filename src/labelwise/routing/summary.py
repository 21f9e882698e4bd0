"""What a route did, as one JSON-ready dict: per stage its threshold, coverage, held-out accuracy
and cost; the finished dataset; and the cost of the alternatives (each annotator on everything,
people on everything). The report renders it; nothing here asks a model."""
from __future__ import annotations

from typing import Any, Sequence

from .router import RouteResult
from .small_stage import SmallModelStage
from .stages import HUMAN


def _per_call(spent: dict[str, dict[str, float]], aid: str | None) -> dict[str, float] | None:
    s = spent.get(aid or "")
    if not s or not s["calls"]:
        return None
    return {"money": s["money"] / s["calls"], "seconds": s["seconds"] / s["calls"]}


def route_summary(project: Any, stages: Sequence[Any], result: RouteResult) -> dict[str, Any]:
    rc = project.config.route
    spent = project.store.spent_by_annotator()
    price = project.config.human_price_per_label
    rows, alternatives = [], []
    machine_stages = [s for s in stages if s != HUMAN] if rc.rule == "quantile" else stages
    for stage, plan in zip(machine_stages, result.plan):
        th = plan.threshold
        aid = None if stage == HUMAN or isinstance(stage, SmallModelStage) else stage.project.annotator.id
        per_call = _per_call(spent, aid)
        rows.append({
            "stage": plan.stage, "kind": "people" if stage == HUMAN else
            "small model" if isinstance(stage, SmallModelStage) else "LLM",
            "threshold": None if th is None else th.threshold,
            "safe": th is not None and th.threshold is not None,
            "gold_offered": plan.gold_offered, "gold_accepted": 0 if th is None else th.accepted,
            "coverage": None if th is None else th.coverage, "calibration_accuracy": None if th is None else th.accuracy,
            "error_bound": None if th is None else th.error_bound, "reason": None if th is None else th.reason,
            "delta": plan.delta, "batches": plan.batches, "trained_on": plan.trained_on,
            "holdout_offered": plan.holdout_offered, "holdout_accepted": plan.holdout_accepted,
            "holdout_accuracy": plan.holdout_accuracy, "holdout_offered_accuracy": plan.holdout_offered_accuracy,
            "labeled": result.from_people if stage == HUMAN else result.labeled.get(plan.stage, 0),
            "queued": result.queued_for_people if stage == HUMAN else 0, "people_gold": plan.people_gold,
            "calls": plan.calls + result.calls.get(plan.stage, 0),
            "money": plan.money + result.money.get(plan.stage, 0.0),
            "paid_in_project": int(spent.get(aid or "", {}).get("calls", 0)),  # every answer of it in the ledger
            "per_call": per_call, "risk_coverage": plan.risk_coverage})
        if aid is not None:
            alternatives.append({"way": f"{plan.stage} on every item", "calls": result.pool,
                                 "money": None if per_call is None else per_call["money"] * result.pool,
                                 "seconds": None if per_call is None else per_call["seconds"] * result.pool})
    machine = [r for r in rows if r["kind"] != "people"]
    held_acc = sum(r["holdout_accepted"] for r in machine)
    held_ok = sum(p.holdout_correct for p in result.plan if p.stage != HUMAN)
    held_n = result.plan[0].holdout_offered if result.plan else 0
    llm_calls = sum(r["calls"] for r in rows if r["kind"] == "LLM")
    money = sum(r["money"] for r in rows)
    route_cost = {"way": "this route (this invocation's calls, gold calibration included)", "calls": llm_calls,
                  "money": money + (result.queued_for_people + result.from_people) * price,
                  "seconds": sum((r["per_call"] or {}).get("seconds", 0.0) * r["calls"] for r in rows),
                  "people_labels": result.queued_for_people + result.from_people}
    people = {"way": f"people on every item at ${price:.2f}/label", "calls": 0, "money": result.pool * price,
              "seconds": None, "people_labels": result.pool}
    first = next((p.threshold for p in result.plan if p.threshold is not None), None)
    return {
        "run": result.run, "rule": rc.rule, "target_accuracy": rc.target_accuracy, "delta": rc.delta,
        "guarantee": first.guarantee if first is not None else None,
        "stages_at_once": f"Each stage's guarantee holds at 1 - delta; all {len(machine)} machine stages at once "
                          f"with probability >= {max(0.0, 1 - len(machine) * rc.delta):.4g} (union bound)",
        "pool": result.pool, "from_gold": result.from_gold, "stages": rows, "batches": result.batches,
        "dataset": {"certified": result.certified, "uncertified": result.uncertified, "from_people": result.from_people,
                    "queued_for_people": result.queued_for_people, "unrouted": result.unrouted,
                    "stopped": result.stopped,
                    "holdout_machine_share": held_acc / held_n if held_n else None,
                    "holdout_machine_accuracy": held_ok / held_acc if held_acc else None, "holdout_n": held_n},
        "cost": [route_cost, *alternatives, people], "human_price_per_label": price,
    }
