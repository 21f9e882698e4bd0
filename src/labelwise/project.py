"""A project: its config and the parts built from it. Opening one does no work; each part is
built when a command asks for it."""
from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass, replace
from functools import cached_property
from pathlib import Path
from typing import Any, Callable

from .annotators.base import Annotator, make_annotator
from .config import ProjectConfig, load_config
from .cost.budget import Budget
from .cost.prices import Price, load_prices
from .data.readers import read_records
from .engine import AnnotationRun, RunSummary
from .errors import ConfigError
from .fewshot import FewShot
from .quality.gold_watch import GoldWatch
from .store import Store
from .tasks.base import Task, make_task
from .types import Annotation, Record


@dataclass
class Project:
    config: ProjectConfig
    worker: bool = False  # a runner's worker: works under the lock its driver holds (``Store``)

    @classmethod
    def open(cls, path: str | Path = ".", worker: bool = False) -> "Project":
        return cls(load_config(path), worker=worker)

    @cached_property
    def task(self) -> Task:
        return make_task(self.config.task)

    @cached_property
    def store(self) -> Store:
        st = self.config.store
        store = Store(st.url or self.config.resolve(st.path), worker=self.worker)
        store.lease_s = st.lease_s
        return store

    def normalize_gold(self, raw: object) -> object:
        """A raw gold value -> a label of the schema, through data.label_map when one is set."""
        return self.task.normalize_gold(self.config.data.label_map.get(str(raw).strip(), raw))

    def read_data(self) -> list[Record]:
        d = self.config.data
        return read_records(self.config.resolve(d.path), input_fields=self.task.input_fields, fmt=d.format,
                            id_field=d.id_field, label_field=d.label_field, normalize_gold=self.normalize_gold,
                            domain_field=d.domain_field, split_field=d.split_field, limit=d.limit)

    def load_records(self) -> list[Record]:
        """Read the data file and store its records (idempotent)."""
        records = self.read_data()
        self.store.put_records(records)
        return records

    @cached_property
    def annotator(self) -> Annotator:
        return make_annotator(self.config.annotator)

    def price(self) -> Price | None:
        table = load_prices(self.config.resolve(self.config.prices) if self.config.prices else None)
        a = self.config.annotator
        price = table.price(a.backend, a.model)
        if price is None and self.config.budget.money is not None:
            raise ConfigError(f"no price for {a.backend}/{a.model}, so a money budget cannot be kept; add it to "
                              "a price file and name it under `prices:`", field="budget.money")
        return price

    def budget(self) -> Budget:
        """The project's budget; its state (spent, reserved) lives in the project database."""
        b = self.config.budget
        return Budget(money=b.money, requests=b.requests if b.requests is not None else b.calls, tokens=b.tokens,
                      items=b.items, store=self.store)

    def few_shot(self) -> FewShot | None:
        fs = self.config.few_shot
        if fs.mode == "none":
            return None
        if not fs.path:
            raise ConfigError("few_shot.mode needs few_shot.path: a file of labeled examples with the same columns",
                              field="few_shot.path")
        d = self.config.data
        pool = read_records(self.config.resolve(fs.path), input_fields=self.task.input_fields, fmt="auto",
                            id_field=d.id_field, label_field=d.label_field,
                            normalize_gold=self.normalize_gold)
        return FewShot(fs.mode, pool, self.task.input_fields, k=fs.k, balanced=fs.balanced, seed=fs.seed,
                       store=self.store, label_key=getattr(self.task, "example_key", None), order=fs.order,
                       clusters=fs.clusters)

    def with_annotator(self, backend: str, model: str, annotator: Annotator | None = None) -> "Project":
        """This project asking another annotator: the same store (one connection), task and
        data; the annotator config's other settings kept. ``annotator`` injects a built one."""
        cfg = self.config.model_copy(update={"annotator": self.config.annotator.model_copy(
            update={"backend": backend, "model": model})})
        sub = self.variant(cfg)
        sub.__dict__["annotator"] = annotator if annotator is not None else make_annotator(cfg.annotator)
        return sub

    def variant(self, config: ProjectConfig) -> "Project":
        """This project under another config (another annotator, few-shot mode, ...) on the same
        store (one connection) and task; the annotator is built from ``config`` when asked for."""
        if config.task != self.config.task:
            raise ValueError("a variant shares the task: its labels and template must not change")
        sub = Project(config, worker=self.worker)
        sub.__dict__["store"], sub.__dict__["task"] = self.store, self.task  # the cached parts, shared
        return sub

    def annotation_run(self, repeat: int = 0, on_progress: Callable[[RunSummary], None] = lambda s: None,
                       wait_for_lock: bool = False) -> AnnotationRun:
        """The engine as this project's config sets it up (builds nothing that asks a model)."""
        fs = self.few_shot()
        return AnnotationRun(task=self.task, annotator=self.annotator, store=self.store, budget=self.budget(),
                             price=self.price(), concurrency=self.config.annotator.concurrency,
                             calibrate=self.config.annotator.calibrate,
                             examples_for=fs.for_record if fs else None,
                             calibration_examples=fs.fixed() if fs else (), repeat=repeat, on_progress=on_progress,
                             wait_for_lock=wait_for_lock)

    def gold_stream(self, path: str | Path | None = None) -> list[Record]:
        """The items of ``path`` (default ``gold.path``), ids namespaced ("gold:<id>") so they
        never meet a data id; their text and fields are as given, so their prompts look like any
        other. Every one must have its gold label."""
        g, d = self.config.gold, self.config.data
        path = path if path is not None else g.path
        if not path:
            return []
        found = read_records(self.config.resolve(path), input_fields=self.task.input_fields, fmt="auto",
                             id_field=d.id_field, label_field=d.label_field or "label",
                             normalize_gold=self.normalize_gold)
        missing = [r.id for r in found if r.gold is None]
        if missing:
            raise ConfigError(f"{len(missing)} gold item(s) have no label (first: id {missing[0]}); every gold "
                              "question needs its answer", path=str(path), field=d.label_field or "label")
        return [replace(r, id=f"gold:{r.id}") for r in found]

    def gold_certainty(self, path: str | Path | None, records: list[Record]) -> dict[str, float]:
        """``gold.certainty_field`` of the rows of ``path`` (the records read from it, in file
        order), by record id; {} when no field is set or, for the data file, it lacks the column."""
        field = self.config.gold.certainty_field
        if not field or path is None:
            return {}
        from .quality.gold_select import read_certainty
        is_data = Path(path) == Path(self.config.data.path)
        return read_certainty(self.config.resolve(path), records, field,
                              fmt=self.config.data.format if is_data else "auto", required=not is_data)

    def choose_gold(self, gold: list[Record], certainty: dict[str, float], n: int | None = None,
                    seed: int | None = None) -> list[Record]:
        """The gold items to ask (see ``quality.gold_select``): at most ``n`` (default
        ``gold.sample``), the most certain first when ``gold.certainty_field`` is set."""
        from .quality.gold_select import select_gold
        g = self.config.gold
        if g.certainty_field and not certainty:
            raise ConfigError(f"gold.certainty_field '{g.certainty_field}': no gold item has a certainty (add the "
                              "column to the gold file or the data)", field="gold.certainty_field")
        return select_gold(gold, n if n is not None else g.sample, certainty or None, g.min_certainty,
                           g.seed if seed is None else seed)

    def read_extra(self, path: str | Path, prefix: str, need_labels: bool = False) -> list[Record]:
        """Records of another file with the data's columns (a loop's source set or pool), ids
        namespaced ``PREFIX:<id>`` so they never meet a data id; stored in the project."""
        d = self.config.data
        found = read_records(self.config.resolve(path), input_fields=self.task.input_fields, fmt="auto",
                             id_field=d.id_field, label_field=d.label_field, normalize_gold=self.normalize_gold,
                             domain_field=d.domain_field if d.domain_field else None)
        if need_labels:
            missing = [r.id for r in found if r.gold is None]
            if missing or not found:
                raise ConfigError(f"{len(missing)} item(s) have no label (first: id {missing[0]})" if missing else
                                  "no items", path=str(path), field=d.label_field or "label")
        out = [replace(r, id=f"{prefix}:{r.id}") for r in found]
        self.store.put_records(out)
        return out

    def _watch_gold(self, run: AnnotationRun, records: list[Record]) -> list[Record]:
        """Mix the gold file's items into ``records`` at random positions and watch every gold
        answer of the run (data rows with gold count too; with ``gold.sample`` or
        ``gold.certainty_field``, only those chosen); returns the records to annotate."""
        g = self.config.gold
        extra = self.gold_stream()
        certainty = self.gold_certainty(g.path, extra)
        if g.certainty_field:
            certainty.update(self.gold_certainty(self.config.data.path, self.read_data()))
        candidates = [r for r in records if r.gold is not None] + extra
        if not candidates:
            return records
        chosen = {r.id for r in self.choose_gold(candidates, certainty)}
        extra = [r for r in extra if r.id in chosen]
        if extra:
            self.store.put_records(extra)
            mixed = list(records)
            rng = random.Random(g.seed)
            for r in extra:
                mixed.insert(rng.randint(0, len(mixed)), r)
            records = mixed
        gold = {r.id: r.gold for r in records if r.gold is not None and r.id in chosen}
        if not gold:
            return records
        watch = GoldWatch(g.target if g.target is not None else 0.0, g.delta, g.min_items,
                          as_sets=self.task.kind == "multilabel")
        for rid, ann in run.pending([r for r in records if r.id in gold])[1].items():  # answered before
            watch.add(ann.label, gold[rid], ann.error)
        summary = run.summary

        def check() -> None:
            summary.gold = watch.as_json()
            if g.target is not None and watch.below_target() and not summary.stopped and g.action != "warn":
                summary.stopped = watch.message() + (": stopped before spending more (gold.action: warn to go on)"
                                                     if g.action == "stop" else f": {self.annotator.id} stopped, "
                                                     f"the items go to {self.next_stage()}")
                summary.stop_cause = "gold"

        def on_annotation(record: Record, label: Any, error: str | None) -> None:
            if record.id in gold:
                watch.add(label, gold[record.id], error)
                check()

        check()  # answers stored by an earlier run may already show it: then nothing more is paid
        run.on_annotation = on_annotation
        return records

    def people_labels(self, record_ids: set[str]) -> dict[str, dict[str, Any]]:
        """reviewer -> {record id: label} of people's answers (the review page, imports) to these
        records under the current prompt template; rejections left out."""
        people: dict[str, dict[str, Any]] = {}
        for a in self.store.human_annotations(self.task.template_hash):
            if a.record_id in record_ids and a.error is None:
                people.setdefault(a.annotator_id.split("/", 1)[1], {})[a.record_id] = a.label
        return people

    def current_annotations(self, records: list[Record] | None = None, repeat: int = 0) -> dict[str, Annotation]:
        """The annotation of each record as the project asks now (its text, prompt, examples and
        annotator settings), by record id; records of the current data file by default. Older
        annotations stay in the store (``store.annotations()``)."""
        records = self.read_data() if records is None else records
        run = self.annotation_run(repeat=repeat)
        current: dict[str, Annotation] = {}
        for i in range(0, len(records), 1000):
            current.update(run.pending(records[i:i + 1000])[1])
        return current

    def run(self, records: list[Record] | None = None, on_progress: Callable[[RunSummary], None] = lambda s: None,
            repeat: int = 0, limit: int | None = None, wait_for_lock: bool = False,
            watch_gold: bool | None = None) -> RunSummary:
        """Annotate what is pending (at most ``limit`` items); see ``AnnotationRun``. With
        ``watch_gold`` (the default without ``records``: the whole data file) the gold questions
        are mixed in and watched (``gold:``); with ``gold.action: reroute`` an annotator shown
        below the target hands the items to the next stage of ``route.stages``."""
        with self.store.lock("annotate", wait=wait_for_lock):
            watch = records is None if watch_gold is None else watch_gold
            records = self.load_records() if records is None else records
            return self._run(records, on_progress, repeat, limit, watch)

    def _run(self, records: list[Record], on_progress: Callable[[RunSummary], None], repeat: int,
             limit: int | None, watch: bool) -> RunSummary:
        run = self.annotation_run(repeat=repeat, on_progress=on_progress)
        todo = self._watch_gold(run, records) if watch else records

        async def go() -> RunSummary:
            try:
                return await run.run(todo, limit=limit)
            finally:
                await self.annotator.aclose()

        s = asyncio.run(go())
        if watch and s.stop_cause == "gold" and self.config.gold.action == "reroute":
            return self._reroute(s, records, on_progress, repeat, limit)
        return s

    # -- gold.action: reroute ------------------------------------------------------------------
    def _reroute_key(self) -> str:
        a = self.config.annotator
        return f"gold-reroute/{a.backend}:{a.model}/{self.task.template_hash}"

    def next_stage(self) -> str | None:
        """The route stage after this project's annotator (None: it is not listed, or last)."""
        a, stages = self.config.annotator, self.config.route.stages
        me = f"{a.backend}:{a.model}"
        return stages[stages.index(me) + 1] if me in stages and stages.index(me) + 1 < len(stages) else None

    def _reroute(self, s: RunSummary, records: list[Record], on_progress: Callable[[RunSummary], None],
                 repeat: int, limit: int | None) -> RunSummary:
        """The annotator was shown below ``gold.target``: every item (those it already answered
        too: its answers stay in the store, paid once, but no longer label the data) goes to the
        next stage, which is watched in turn. ``human``: the items are queued for people."""
        nxt = self.next_stage()
        a = self.config.annotator
        done = {"from": f"{a.backend}:{a.model}", "to": nxt, "why": s.stopped, "gold": s.gold, "calls": s.calls,
                "money": s.money, "seconds": s.seconds}
        self.store.set_kv(self._reroute_key(), {"to": nxt, "why": s.stopped, "gold": s.gold})
        if nxt is None:  # the config validator keeps this from happening; a changed route could
            s.stopped = f"{s.stopped}; no route stage after {self.annotator.id} to reroute to"
            return s
        from .routing.stages import HUMAN
        if nxt == HUMAN:
            data = [r.id for r in records if not r.id.startswith("gold:")]
            n = self.store.queue_for_review("gold-reroute", data, f"gold questions: {self.annotator.id} below "
                                                                  "gold.target")
            s.stopped = f"{s.stopped}; rerouted to people: {n} item(s) queued for review"
            s.rerouted = [done]
            return s
        backend, _, model = nxt.partition(":")
        sub = self.variant(self.config.model_copy(update={"annotator": self.config.annotator.model_copy(
            update={"backend": backend, "model": model})}))
        unload = getattr(self.annotator, "unload", None)
        if callable(unload):
            unload()  # one embedded model in memory at a time
        after = sub._run(records, on_progress, repeat, limit, True)
        after.rerouted = [done, *after.rerouted]
        return after

    def labeling_project(self) -> "Project":
        """The project whose annotator labels the data now: this one, or, with ``gold.action:
        reroute``, the stage its gold questions rerouted to (followed to the last; people's
        queue ends it)."""
        from .routing.stages import HUMAN
        p, seen = self, set()
        while p.config.gold.action == "reroute":
            fact = p.store.get_kv(p._reroute_key())
            if not fact or not fact.get("to") or fact["to"] == HUMAN or fact["to"] in seen:
                break
            seen.add(fact["to"])
            backend, _, model = fact["to"].partition(":")
            p = p.variant(p.config.model_copy(update={"annotator": p.config.annotator.model_copy(
                update={"backend": backend, "model": model})}))
        return p
