"""The active-learning loop. Wiring only: seed -> (train -> score -> select -> annotate) x rounds,
each round evaluated on the source test set and every target-domain test set, and stored so a
stopped loop resumes at its last finished round. LLM answers go through the engine (cache,
budget, ledger), so strategies compared on one pool share every answer already bought.
"""
from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass, replace
from functools import cached_property
from typing import Any, Callable, Sequence

import numpy as np

from .loop_models import ClassifierRounds, rounds_for
from .models.base import make_small_model
from .models.committee import Committee
from .project import Project
from .strategies import ClassBalanced, PoolState, StableStop, make_strategy
from .types import Record

SOURCE = "source"


def split_records(records: Sequence[Record], test_split: str) -> tuple[list[Record], list[Record]]:
    test = [r for r in records if r.split == test_split and r.gold is not None]
    pool = [r for r in records if r.split != test_split]
    return pool, test


def evaluate_by_domain(model: Any, rounds: ClassifierRounds, test: Sequence[Record]) -> dict[str, dict[str, float]]:
    """The small model's test metrics per domain (no domain = the source)."""
    domains = sorted({r.domain or SOURCE for r in test})
    return {d: rounds.evaluate(model, [r for r in test if (r.domain or SOURCE) == d]) for d in domains}


@dataclass
class ActiveLearningLoop:
    project: Project
    strategy: str | None
    budget: int
    rounds: int
    seed: int = 0
    seed_size: int = 50
    model: str | None = None  # default: the task kind's (logreg for classification, crf for ner)
    seed_from_gold: bool = False
    class_balance: bool = False
    test_split: str = "test"
    stable_rounds: int = 0  # > 0: stop once predictions stopped changing this many rounds in a row
    stable_change: float = 0.01  # ... i.e. fewer than this share of pool items changed their prediction
    initial_train: str | None = None  # a labeled source file the model learns before any LLM label
    pool_path: str | None = None  # unlabeled inputs to buy labels from (default: the data's non-test rows)
    on_round: Callable[[dict[str, Any]], None] = lambda r: None

    def __post_init__(self) -> None:
        self.kind = rounds_for(self.project.task)
        if self.strategy in (None, "uncertainty"):  # the task kind's uncertainty measure
            self.strategy = self.kind.default_strategy
        self.kind.check_strategy(self.strategy)
        self.model = self.model or self.kind.default_model

    @cached_property
    def source_records(self) -> list[Record]:
        """``initial_train``'s items with their gold labels (always in the training set)."""
        return self.project.read_extra(self.initial_train, "train", need_labels=True) if self.initial_train else []

    @property
    def parameters(self) -> dict[str, Any]:
        """Everything that changes what the loop buys or trains, but the seed. The stopping rule
        is left out on purpose: it never changes what is selected, only when the loop ends."""
        p = self.project
        return {"annotator": p.annotator.id, "annotator_identity": dict(p.annotator.identity()),
                "template": p.task.template_hash, "strategy": self.strategy, "class_balance": self.class_balance,
                "budget": self.budget, "rounds": self.rounds, "seed_size": min(self.seed_size, self.budget),
                "seed_from_gold": self.seed_from_gold, "model": self.model, "test_split": self.test_split,
                **({"initial_train": self.initial_train} if self.initial_train else {}),
                **({"pool": self.pool_path} if self.pool_path else {})}

    @property
    def run_name(self) -> str:
        """``strategy/b<budget>/s<seed>/<model>/<hash>``: a readable prefix, then a hash of
        :attr:`parameters`, so another annotator, template or schedule is another run (with its
        own rounds and its own LLM calls) while the same parameters resume. The seed is a part of
        its own and out of the hash: the report drops ``s<seed>`` to average runs over seeds."""
        digest = hashlib.sha256(json.dumps(self.parameters, sort_keys=True, default=str).encode()).hexdigest()[:10]
        return (f"{self.strategy}{'+balanced' if self.class_balance else ''}/b{self.budget}/s{self.seed}/"
                f"{self.model}/{digest}")

    def _people_labels(self, records: list[Record]) -> dict[str, Any]:
        """Labels people gave these items (the review page or an import, current template): the
        majority of their answers, as `export` takes it. They are used instead of buying one."""
        from .review.answers import people_majority
        verdicts = people_majority(self.project.people_labels({r.id for r in records}))
        return {rid: (tuple(v.label) if isinstance(v.label, list) else v.label) for rid, v in verdicts.items()}

    def _llm_labels(self, records: list[Record]) -> tuple[dict[str, Any], dict[str, Any]]:
        """Annotate through the engine; return the answer per item asked (None where the answer was
        stored as an error: bought, so never bought again, but not a label) and the run summary.
        Items people already labeled take their label and are not bought."""
        p = self.project
        by_people = self._people_labels(records)
        ask = [r for r in records if r.id not in by_people]
        summary = p.run(ask) if ask else None
        anns = p.current_annotations(ask) if ask else {}  # as asked now: never another config's or text's label
        got = {r.id: (anns[r.id].label if anns[r.id].error is None else None) for r in ask if r.id in anns}
        got.update(by_people)
        if summary is None:
            return got, {"calls": 0, "from_cache": 0, "errors": 0, "money": 0.0, "stopped": None, "from_people": len(by_people)}
        return got, {"calls": summary.calls, "from_cache": summary.from_cache, "errors": summary.errors,
                     "money": summary.money, "stopped": summary.stopped, "from_people": len(by_people)}

    def _fit(self, pool: dict[str, Record], labeled: dict[str, Any]) -> Any:
        """The small model trained on the source set (``initial_train``, its gold labels) and the
        usable LLM labels; None while there is nothing to learn from."""
        ids = sorted(i for i, label in labeled.items() if label is not None)
        source = self.source_records
        if not ids and not source:
            return None
        model = self.kind.wrap(make_small_model(self.model, store=self.project.store, seed=self.seed))
        X = self.kind.inputs(source + [pool[i] for i in ids])
        return model.fit(X, [r.gold for r in source] + [labeled[i] for i in ids])

    def _predictions(self, model: Any, pool_records: list[Record]) -> np.ndarray:
        """Predictions on the whole pool (all None while no usable label exists)."""
        if model is None:
            return np.full(len(pool_records), None, dtype=object)
        return self.kind.predictions(model, pool_records)

    def _select(self, model: Any, pool_records: list[Record], labeled: dict[str, Any],
                n: int) -> tuple[list[str], dict[str, Any]]:
        """The items to buy next, and what was picked and why (stored with the round)."""
        if model is None:  # no usable label yet (every answer was an error): pick at random
            state = PoolState(ids=np.array([r.id for r in pool_records]),
                              labeled=np.array([r.id in labeled for r in pool_records]))
            rng = np.random.default_rng(self.seed * 7919 + len(labeled))
            return make_strategy("random").select(state, n, rng), {"note": "no usable label yet: picked at random"}
        strategy = make_strategy(self.strategy)
        if self.class_balance:
            strategy = ClassBalanced(strategy)
        needs = set(getattr(strategy, "needs", ()))  # the arrays this strategy reads, and no others
        state = self.kind.pool_state(model, pool_records, labeled, needs)
        if "committee_votes" in needs:
            state = replace(state, committee_votes=self._committee_votes(pool_records, labeled))
        chosen = strategy.select(state, n, np.random.default_rng(self.seed * 7919 + len(labeled)))
        return chosen, self._describe_picks(strategy, state, model, pool_records, chosen)

    def _describe_picks(self, strategy: Any, state: PoolState, model: Any, pool_records: list[Record],
                        chosen: list[str]) -> dict[str, Any]:
        """What the strategy picked and why: each pick's score (where the strategy scores items),
        the picks' share per domain, and how the model that chose them did on the picks that
        have gold (is it picking its own mistakes?)."""
        scores = strategy.scores(state) if hasattr(strategy, "scores") else None
        at = {rid: i for i, rid in enumerate(state.ids.tolist())}
        by_id = {r.id: r for r in pool_records}
        picks = [{"id": rid, "domain": by_id[rid].domain or SOURCE,
                  "score": None if scores is None else float(scores[at[rid]])} for rid in chosen]
        domains: dict[str, int] = {}
        for pk in picks:
            domains[pk["domain"]] = domains.get(pk["domain"], 0) + 1
        with_gold = [by_id[rid] for rid in chosen if by_id[rid].gold is not None]
        acc = None
        if with_gold and model is not None:
            pred = self.kind.predictions(model, with_gold)
            acc = float(np.mean([str(p) == ("|".join(map(str, r.gold)) if isinstance(r.gold, (list, tuple))
                                            else str(r.gold)) for p, r in zip(pred, with_gold)]))
        return {"picks": picks, "picks_by_domain": domains, "model_accuracy_on_picks": acc,
                "picks_with_gold": len(with_gold)}

    def _committee_votes(self, pool_records: list[Record], labeled: dict[str, Any], size: int = 3) -> np.ndarray:
        """Votes of a committee of ``size`` small models, each trained on a bootstrap sample of the
        labels bought (query by bagging; :class:`models.committee.Committee`)."""
        pool = {r.id: r for r in pool_records}
        usable = sorted(i for i, label in labeled.items() if label is not None)
        member = self.kind.wrap(make_small_model(self.model, store=self.project.store, seed=self.seed))
        committee = Committee(member, size, seed=self.seed + len(labeled)).fit(
            self.kind.inputs([pool[i] for i in usable]), [labeled[i] for i in usable])
        X = self.kind.inputs(pool_records)
        votes = [self.kind.votes(m, X) for m in committee.members_]
        # class indices 0..m-1 over the votes cast (a multi-label vote is a label set, not an index)
        return np.unique(np.stack(votes), return_inverse=True)[1].reshape(len(votes), -1)

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
        rows = [{"id": i, "label": _jsonable(l), "source": "llm" if l is not None else "llm_error",
                 "confidence": None} for i, l in labeled.items()]
        predicted = self.kind.predict_rest(model, rest) if model is not None else [(None, None)] * len(rest)
        for r, (label, conf) in zip(rest, predicted):
            rows.append({"id": r.id, "label": _jsonable(label), "source": "small_model", "confidence": conf})
        return rows

    def run(self, wait_for_lock: bool = False) -> list[dict[str, Any]]:
        """Run (or resume) the loop, holding the project for its whole length: another run
        in between rounds could otherwise buy the same labels."""
        with self.project.store.lock("loop", wait=wait_for_lock):
            return self._run()

    def _run(self) -> list[dict[str, Any]]:
        p = self.project
        records = p.load_records()
        pool_records, test = split_records(records, self.test_split)
        if self.pool_path:  # the paper's setting: buy labels for these inputs, test on the data file
            pool_records = p.read_extra(self.pool_path, "pool")
            test = [r for r in records if r.gold is not None and (r.split == self.test_split or r.split is None)]
        pool = {r.id: r for r in pool_records}
        done = p.store.rounds(self.run_name)
        results = [res for _, _, _, res in done]
        labeled: dict[str, Any] = dict(done[-1][2]) if done else {}
        start = done[-1][1] + 1 if done else 0
        seed_size = min(self.seed_size, self.budget)  # the budget counts every LLM label, the seed's too
        per_round = max(1, math.ceil((self.budget - seed_size) / self.rounds))
        model: Any = _NOT_FITTED  # the model trained at the end of the previous round, reused to select
        stable = StableStop(self.stable_rounds, self.stable_change) if self.stable_rounds else None
        if stable is not None and done:  # resumed with the rule on
            if done[-1][3].get("stable_stop"):
                return results  # (a run without the rule goes on: the rule never changes what is selected)
            if start <= self.rounds:  # the changes so far and the last finished round's predictions
                model = self._fit(pool, labeled)
                stable.restore([r["prediction_change"] for r in results if r.get("prediction_change") is not None],
                               self._predictions(model, pool_records))
        for rnd in range(start, self.rounds + 1):
            if rnd == 0 and self.source_records:  # a model trained on the source picks the first batch too
                chosen, picks = self._select(self._fit(pool, {}), pool_records, labeled, seed_size)
            elif rnd == 0:
                rng = np.random.default_rng(self.seed)
                chosen = [pool_records[i].id for i in rng.permutation(len(pool_records))[:seed_size]]
                picks: dict[str, Any] = {"note": "the seed: a random sample of the pool"}
            else:
                remaining = self.budget - len(labeled)
                if remaining <= 0:
                    break
                if model is _NOT_FITTED:  # resumed: rebuild the last finished round's model once
                    model = self._fit(pool, labeled)
                chosen, picks = self._select(model, pool_records, labeled, min(per_round, remaining))
            if rnd == 0 and self.seed_from_gold:
                new, spend = {i: pool[i].gold for i in chosen}, {"calls": 0, "from_cache": 0, "errors": 0, "money": 0.0}
            else:
                new, spend = self._llm_labels([pool[i] for i in chosen])
            labeled.update(new)
            model = self._fit(pool, labeled)
            usable = [i for i, label in labeled.items() if label is not None]
            gold_known = [i for i in usable if pool[i].gold is not None]
            result = {
                "run": self.run_name, "strategy": self.strategy, "seed": self.seed, "round": rnd,
                "llm_labels": len(labeled), "llm_errors": len(labeled) - len(usable), "selected": len(chosen),
                **spend, "metric": self.kind.metric,
                "label_counts": self.kind.label_counts([labeled[i] for i in usable]),
                "llm_label_accuracy": self.kind.llm_label_quality([labeled[i] for i in gold_known],
                                                                  [pool[i].gold for i in gold_known]),
                "test": evaluate_by_domain(model, self.kind, test) if model is not None else {},
                "selection": picks,
            }
            if stable is not None:
                stable.update(self._predictions(model, pool_records))
                result["prediction_change"] = stable.changes[-1] if stable.changes else None
                result["stable_stop"] = stable.stopped
            p.store.put_round(self.run_name, rnd, labeled, result)
            results.append(result)
            self.on_round(result)
            if spend.get("stopped") or result.get("stable_stop"):
                break
        return results


_NOT_FITTED = object()


def _jsonable(label: Any) -> Any:
    return list(label) if isinstance(label, tuple) else label
