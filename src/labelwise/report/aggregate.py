"""Round results of many runs -> mean and std over seeds, per strategy, round and domain."""
from __future__ import annotations

from collections import defaultdict
from typing import Any, Sequence

import numpy as np


def _key(r: dict[str, Any]) -> str:
    """A run's name without its seed: runs that differ only in seed are averaged together."""
    parts = r["run"].split("/")
    return "/".join(p for p in parts if not p.startswith("s") or not p[1:].isdigit())


def aggregate_rounds(results: Sequence[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """{series: [{round, llm_labels, calls_paid, money, money_spent, seeds, stable_stops,
    test: {domain: {accuracy_mean, ...}}}]}

    ``money`` is what the round spent; ``calls_paid`` and ``money_spent`` are totals up to it.

    Every metric a round reports per domain gets ``<name>_mean`` and ``<name>_std``."""
    groups: dict[str, dict[int, list[dict[str, Any]]]] = defaultdict(lambda: defaultdict(list))
    for r in results:
        groups[_key(r)][r["round"]].append(r)
    out: dict[str, list[dict[str, Any]]] = {}
    for series, by_round in sorted(groups.items()):
        rows = []
        cum_calls: dict[Any, float] = defaultdict(float)  # per seed: calls and money paid so far
        cum_money: dict[Any, float] = defaultdict(float)
        for rnd in sorted(by_round):
            rs = by_round[rnd]
            row: dict[str, Any] = {"round": rnd, "seeds": len(rs),
                                   "llm_labels": float(np.mean([r["llm_labels"] for r in rs])),
                                   "money": float(np.mean([r.get("money", 0.0) for r in rs])), "test": {}}
            for i, r in enumerate(rs):
                cum_calls[r.get("seed", i)] += r.get("calls", 0)
                cum_money[r.get("seed", i)] += r.get("money", 0.0)
            row["stable_stops"] = sum(bool(r.get("stable_stop")) for r in rs)  # seeds that stopped here early
            row["calls_paid"] = float(np.mean(list(cum_calls.values())))
            row["money_spent"] = float(np.mean(list(cum_money.values())))
            acc = [r["llm_label_accuracy"] for r in rs if r.get("llm_label_accuracy") is not None]
            row["llm_label_accuracy"] = float(np.mean(acc)) if acc else None
            for d in sorted({d for r in rs for d in r["test"]}):
                vals = [r["test"][d] for r in rs if d in r["test"]]
                row["test"][d] = {"n": int(vals[0]["n"])}
                for name in (k for k in vals[0] if k != "n"):  # accuracy, macro_f1; f1 for NER
                    a = np.array([v[name] for v in vals])
                    row["test"][d].update({f"{name}_mean": float(a.mean()), f"{name}_std": float(a.std())})
            row["label_counts"] = {l: float(np.mean([r["label_counts"].get(l, 0) for r in rs]))
                                   for l in rs[0]["label_counts"]}
            rows.append(row)
        out[series] = rows
    return out
