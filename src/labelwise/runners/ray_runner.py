"""`labelwise annotate --runner ray`: the pending items of a project annotated by a pool of Ray
actors, each running the ordinary engine on its batch.

Exactly-once comes from the store, not from Ray. Ray Data retries a batch whose actor died
(at-least-once); the batch's answers already written are replayed from the cache for free, and
the questions the dead actor had claimed are taken over once their lease lapses (``Store.claim``).
So the driver only plans: it reads the data, stores the records, finds the items not yet done,
and hands out their ids. Actors read the records from the store, write annotations, cache and
ledger there, and return counters only; the driver sums them into one progress bar.

Where the actors run: ``ray.init()`` starts Ray on this machine (``num_cpus`` = workers x the
CPUs each takes), or joins the cluster ``RAY_ADDRESS`` names. On a cluster the store must be
PostgreSQL (``store.url``): a SQLite file is on one machine only. With SQLite the driver holds
the project lock for the whole run and the actors work under it (``Project(worker=True)``).

An actor of the embedded llama.cpp backend takes ``n_threads`` CPUs (so Ray never puts more
model threads on a machine than it has cores); an HTTP backend's actor takes a quarter of a CPU
(it mostly waits) and keeps one HTTP client, and its own async concurrency, across its batches.
"""
from __future__ import annotations

import asyncio
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from ..engine import RunSummary
from ..errors import ConfigError, LabelwiseError
from ..project import Project

# summed over batches; a batch's already_done counts items a killed attempt at it wrote (a retry finds them done)
MAX_RESTARTS = 3  # per actor, and retries per batch
COUNTERS = ("already_done", "annotated", "calls", "from_cache", "errors", "failed", "prompt_tokens", "completion_tokens")


@dataclass
class RayRunSummary(RunSummary):
    """The engine's summary, summed over the actors' batches."""
    batches: int = 0
    workers: int = 0
    stops: list = field(default_factory=list)  # why batches stopped early (budget, backend), distinct


class _AnnotateBatch:
    """One Ray actor: the project opened as a worker, its engine run on each batch of record ids.
    One event loop per actor, so the annotator's HTTP clients live across batches."""

    def __init__(self, project_dir: str) -> None:
        self.project = Project.open(project_dir, worker=True)
        self.loop = asyncio.new_event_loop()
        self.by_id: dict[str, Any] = {}

    def __call__(self, batch: dict[str, Any]) -> dict[str, list[Any]]:
        ids = [str(i) for i in batch["id"]]
        missing = [i for i in ids if i not in self.by_id]
        if missing:  # records new since this actor last read them (the driver stored them before planning)
            self.by_id = {r.id: r for r in self.project.store.records()}
        records = [self.by_id[i] for i in ids if i in self.by_id]
        run = self.project.annotation_run()
        s = self.loop.run_until_complete(run.run(records))
        out: dict[str, list[Any]] = {k: [getattr(s, k)] for k in COUNTERS}
        out["money"] = [s.money]
        out["seconds"] = [s.seconds]
        out["stopped"] = [s.stopped or ""]
        out["stop_cause"] = [s.stop_cause or ""]
        return out


def actor_cpus(project: Project) -> float:
    """CPUs one actor takes: the embedded model's threads, else a fraction (it waits on HTTP)."""
    cfg = project.config.annotator
    if cfg.backend == "llamacpp":
        from ..machine import threads_for
        return float(cfg.n_threads or threads_for(None).n)
    return 0.25


def run_with_ray(project_dir: str | Path, workers: int, on_progress: Callable[[RayRunSummary], None] = lambda s: None,
                 batch_size: int | None = None, wait_for_lock: bool = False,
                 ray_init: dict[str, Any] | None = None) -> RayRunSummary:
    """Annotate the project's pending items with ``workers`` Ray actors (see the module docstring)."""
    try:
        import ray
        import ray.data
    except ImportError:
        raise LabelwiseError("--runner ray needs Ray: pip install 'labelwise[distributed]'") from None
    if workers < 1:
        raise ConfigError("--workers must be at least 1")
    project = Project.open(project_dir)
    if os.environ.get("RAY_ADDRESS") and project.config.store.url is None:
        raise ConfigError("a Ray cluster (RAY_ADDRESS) needs a store every machine can reach: set store.url to a "
                          "PostgreSQL database (a SQLite file is on this machine only)")
    t0 = time.perf_counter()
    s = RayRunSummary(workers=workers)
    with project.store.lock("annotate", wait=wait_for_lock):
        records = project.load_records()
        pending, _ = project.annotation_run().pending(records)
        s.total, s.already_done = len(records), len(records) - len(pending)
        on_progress(s)
        if pending:
            cpus = actor_cpus(project)
            started = False
            if not ray.is_initialized():
                args = {"include_dashboard": False, "log_to_driver": False, "configure_logging": False}
                if not os.environ.get("RAY_ADDRESS"):
                    args["num_cpus"] = max(1, int(round(workers * cpus + 0.4999)))
                ray.init(**{**args, **(ray_init or {})})
                started = True
            _quiet(ray)
            try:
                # a batch keeps an actor's calls in flight (several times its concurrency) and
                # the work spread (about two batches per actor), at most 1,024 items
                per_actor = -(-len(pending) // (workers * 2))
                size = batch_size or min(1024, max(4 * project.config.annotator.concurrency, per_actor))
                ds = ray.data.from_items([{"id": p[0].id} for p in pending], override_num_blocks=max(
                    1, -(-len(pending) // size)))
                # an actor that dies is restarted and its batch retried (a few times: one that keeps
                # dying, e.g. out of memory, ends the run with Ray's reason instead of looping)
                out = ds.map_batches(_AnnotateBatch, fn_constructor_args=(str(Path(project_dir).resolve()),),
                                     batch_size=size, compute=ray.data.ActorPoolStrategy(size=workers),
                                     num_cpus=cpus, zero_copy_batch=True, max_restarts=MAX_RESTARTS,
                                     max_task_retries=MAX_RESTARTS)
                try:
                    for batch in out.iter_batches(batch_size=1, batch_format="numpy"):
                        _add(s, batch)
                        on_progress(s)
                except Exception as e:  # noqa: BLE001 - Ray wraps the worker's own error
                    last = [ln for ln in str(e).strip().splitlines() if ln.strip()][-1:] or [type(e).__name__]
                    raise LabelwiseError(f"a Ray worker failed: {last[0].strip()}. What the workers wrote is kept "
                                         "(answers, ledger, annotations): rerun to go on") from None
            finally:
                if started:
                    ray.shutdown()
    s.seconds = time.perf_counter() - t0
    if s.stops:
        s.stopped = s.stops[0]
    return s


def _quiet(ray: Any) -> None:
    """No Ray Data progress lines or plan logs in the middle of labelwise's own progress bar."""
    import logging
    ctx = ray.data.DataContext.get_current()
    ctx.enable_progress_bars = False
    ctx.print_on_execution_start = False
    for name in ("ray", "ray.data"):
        logging.getLogger(name).setLevel(logging.WARNING)


def _add(s: RayRunSummary, batch: dict[str, Any]) -> None:
    s.batches += 1
    for k in COUNTERS:
        setattr(s, k, getattr(s, k) + int(batch[k][0]))
    s.money += float(batch["money"][0])
    why, cause = str(batch["stopped"][0]), str(batch["stop_cause"][0])
    if why and why not in s.stops:
        s.stops.append(why)
        s.stop_cause = s.stop_cause or cause or None
