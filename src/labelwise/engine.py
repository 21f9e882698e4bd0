"""Annotate records through one annotator: cache first, budget reserved before every call,
every paid answer written to the cache and the ledger before it is used.

The order of writes is what makes a killed run safe: an answer is committed to the cache the
moment it arrives, and an item's annotation is committed once all its answers are in. A rerun
therefore skips annotated items and replays cached answers without paying for them again.

Items whose answers are all cached are replayed first, ``REPLAY_CHUNK`` at a time: one cache
lookup and one annotation transaction per chunk, nothing reserved or paid. Only the rest are
sent, each through the budget.
"""
from __future__ import annotations

import asyncio
import gc
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator, Mapping, Sequence

from .annotators.base import Annotator
from .cost.budget import Budget
from .cost.prices import Price
from .errors import AnnotatorError, BudgetExhausted, ItemError, ParseError
from .store import Store
from .store.cache import QueryKeys, identity_json
from .tasks.base import Task, average_priors
from .types import Query, Record, Response

ExamplesFor = Callable[[Record], Sequence[Record]]
Plan = tuple[Record, list[Query], list[str]]  # an item, its queries and their cache keys
MAX_CONSECUTIVE_FAILURES = 10
REPLAY_CHUNK = 1000  # items per cache lookup and per annotation transaction when replaying


@dataclass
class RunSummary:
    total: int = 0
    already_done: int = 0
    annotated: int = 0
    errors: int = 0
    from_cache: int = 0
    calls: int = 0
    failed: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    money: float = 0.0
    seconds: float = 0.0
    stopped: str | None = None
    last_failure: str | None = None
    calibration: Mapping[str, Any] | None = None

    @property
    def pending(self) -> int:
        return self.total - self.already_done - self.annotated


class _Stop(Exception):
    pass


@dataclass
class AnnotationRun:
    task: Task
    annotator: Annotator
    store: Store
    budget: Budget
    price: Price | None
    concurrency: int = 8
    calibrate: bool = False
    examples_for: ExamplesFor | None = None
    calibration_examples: Sequence[Record] = ()
    repeat: int = 0
    on_progress: Callable[[RunSummary], None] = lambda s: None
    summary: RunSummary = field(default_factory=RunSummary)

    def __post_init__(self) -> None:
        ident = dict(self.annotator.identity())
        if self.repeat:
            ident["repeat"] = self.repeat  # a repeat must ask again, not replay the first answer
        self._identity = ident
        self._identity_json = identity_json(ident)
        self._annotator_id = self.annotator.id  # read once: some backends derive it per access
        self._key = QueryKeys(self._identity_json)  # cache_key(), same keys, shared prefixes hashed once
        self._cached: dict[str, Response] = {}
        self._inflight: dict[str, asyncio.Future[Response]] = {}
        self._consecutive_failures = 0

    def _cost(self, r: Response) -> float:
        return self.price.cost(r.usage) if self.price else 0.0

    # -- one call -----------------------------------------------------------------------------
    async def _ask(self, key: str, query: Query, sem: asyncio.Semaphore) -> Response:
        if key in self._cached:
            return self._cached[key]
        if key in self._inflight:  # the same question asked twice in one run is paid once
            return await asyncio.shield(self._inflight[key])
        fut: asyncio.Future[Response] = asyncio.get_running_loop().create_future()
        self._inflight[key] = fut
        try:
            async with sem:
                if self.summary.stopped:
                    raise _Stop()
                bound = self.annotator.max_usage(query)
                max_money = self.price.cost(bound) if self.price else 0.0
                try:
                    reservation = self.budget.reserve(max_money, bound.total_tokens)
                except BudgetExhausted as e:
                    self.summary.stopped = str(e)
                    raise _Stop() from None
                try:
                    resp = await self.annotator.answer(query)
                except BaseException as e:
                    self.budget.release(reservation)
                    if isinstance(e, AnnotatorError):
                        self._note_failure(e)
                    raise
                self._consecutive_failures = 0
                cost = self._cost(resp)
                self.store.record_call(key, self._identity, query.as_json(), resp, self._annotator_id, cost)
                self.budget.settle(reservation, cost, resp.usage.total_tokens)
                self.summary.calls += 1
                self.summary.money += cost
                self.summary.prompt_tokens += resp.usage.prompt_tokens
                self.summary.completion_tokens += resp.usage.completion_tokens
            self._cached[key] = resp
            fut.set_result(resp)
            return resp
        except BaseException as e:
            fut.set_exception(e)
            fut.exception()  # mark retrieved: waiters re-raise it themselves
            raise
        finally:
            self._inflight.pop(key, None)

    def _note_failure(self, e: AnnotatorError) -> None:
        """Stop sending once the backend has failed many times in a row (it is down, not flaky)."""
        self.summary.last_failure = str(e)
        self._consecutive_failures += 1
        if self._consecutive_failures >= MAX_CONSECUTIVE_FAILURES and not self.summary.stopped:
            self.summary.stopped = f"{MAX_CONSECUTIVE_FAILURES} calls failed in a row; last: {e}"

    # -- one item -----------------------------------------------------------------------------
    def _annotation(self, record: Record, keys: list[str], responses: list[Response],
                    prior: list[Mapping[str, float]] | None, error: str | None = None) -> tuple[Any, ...]:
        """One item's annotation as the value tuple ``Store.add_annotation_values`` takes (the
        fields of ``Annotation``, in order): this runs per item on the replay hot path."""
        label = dist = None
        if error is None:
            try:
                labeled = self.task.parse(record, responses, prior)
                label, dist = labeled.label, labeled.distribution
            except ParseError as e:
                error = f"ParseError: {e}"
        if error:
            self.summary.errors += 1
        prompt_tokens = completion_tokens = 0
        cost = latency = 0.0
        price = self.price
        for r in responses:  # one plain loop, summed in the same order as ever
            usage = r.usage
            prompt_tokens += usage.prompt_tokens
            completion_tokens += usage.completion_tokens
            cost += price.cost(usage) if price else 0.0
            latency += r.latency_s
        return (record.id, self._annotator_id, self.task.template_hash, label, dist, error,
                tuple(keys) if responses else (), prompt_tokens, completion_tokens, cost, latency, self.repeat)

    async def _item(self, record: Record, queries: list[Query], keys: list[str], sem: asyncio.Semaphore,
                    prior: list[Mapping[str, float]] | None) -> None:
        try:
            if len(queries) == 1:  # the common case: no extra task per item
                responses = [await self._ask(keys[0], queries[0], sem)]
            else:
                responses = list(await asyncio.gather(*[self._ask(k, q, sem) for k, q in zip(keys, queries)]))
            ann = self._annotation(record, keys, responses, prior)
        except ItemError as e:
            ann = self._annotation(record, keys, [], prior, error=f"ItemError: {e}")
        except _Stop:
            return
        except AnnotatorError:  # left pending: a rerun tries again
            self.summary.failed += 1
            self.on_progress(self.summary)
            return
        self.store.add_annotation_values([ann])
        self.summary.annotated += 1
        self.on_progress(self.summary)

    async def _prior(self, sem: asyncio.Semaphore) -> list[Mapping[str, float]] | None:
        per_input = self.task.content_free_queries(self.calibration_examples)
        keys_per_input = [[self._key(q) for q in queries] for queries in per_input]
        # answered by an earlier run: replayed from the cache like any other answer, not paid again
        self._cached.update(self.store.cache_get_many([k for keys in keys_per_input for k in keys]))
        answers = []
        for queries, keys in zip(per_input, keys_per_input):
            answers.append(await asyncio.gather(*[self._ask(k, q, sem) for k, q in zip(keys, queries)]))
        if any(r.choice_logprobs is None for rs in answers for r in rs):
            self.summary.calibration = {"applied": False, "why": "the backend gives no log-probabilities"}
            return None
        prior = [average_priors([rs[i].choice_logprobs for rs in answers]) for i in range(len(answers[0]))]
        self.summary.calibration = {"applied": True, "prior": prior}
        return prior

    # -- the run ------------------------------------------------------------------------------
    def _replay(self, chunk: Sequence[Record], prior: list[Mapping[str, float]] | None) -> list[Plan]:
        """Annotate the items of ``chunk`` whose answers are all in the cache, with one cache
        lookup and one transaction; return the plans of the other items, which need calls.

        Replay pays nothing and writes only annotations, so a kill loses at most this chunk's
        (free) work; nothing it writes can be paid for twice."""
        task, key, examples_for, cached = self.task, self._key, self.examples_for, self._cached
        plans: list[Plan] = []
        for r in chunk:
            queries = task.queries(r, examples_for(r) if examples_for else ())
            plans.append((r, queries, [key(q) for q in queries]))
        found = self.store.cache_get_many([k for _, _, keys in plans for k in keys if k not in cached])
        anns, to_ask, replayed = [], [], 0
        for plan in plans:
            r, _, keys = plan
            responses = []
            for k in keys:
                resp = found.get(k)
                if resp is None:
                    resp = cached.get(k)
                    if resp is None:
                        break
                responses.append(resp)
            else:
                anns.append(self._annotation(r, keys, responses, prior))
                replayed += len(keys)
                continue
            cached.update((k, found[k]) for k in keys if k in found)  # what it has, _ask replays
            to_ask.append(plan)
        if anns:
            self.store.add_annotation_values(anns)
            self.summary.annotated += len(anns)
            self.summary.from_cache += replayed
        return to_ask

    async def run(self, records: Sequence[Record]) -> RunSummary:
        t0 = time.perf_counter()
        s = self.summary
        s.total = len(records)
        done = self.store.annotated_ids(self._annotator_id, self.task.template_hash, self.repeat)
        pending = [r for r in records if r.id not in done]
        s.already_done = s.total - len(pending)
        sem = asyncio.Semaphore(self.concurrency)
        try:
            prior = await self._prior(sem) if self.calibrate and pending else None
            # items whose answers are all cached first, chunk by chunk: no calls, nothing paid
            to_ask: list[Plan] = []
            for i in range(0, len(pending), REPLAY_CHUNK):
                with _no_cycle_collection():
                    to_ask += self._replay(pending[i:i + REPLAY_CHUNK], prior)
                self.on_progress(s)
            if not pending:
                self.on_progress(s)
            await asyncio.gather(*[self._item(r, qs, keys, sem, prior) for r, qs, keys in to_ask])
        except _Stop:
            pass
        finally:
            s.seconds = time.perf_counter() - t0
        return s


@contextmanager
def _no_cycle_collection() -> Iterator[None]:
    """Pause Python's cyclic garbage collector for one replay chunk (a few milliseconds, no
    ``await`` inside). A chunk makes tens of thousands of short-lived objects that reference
    counting frees when it ends; the collector would otherwise keep promoting them while they
    are alive and rescan the whole heap (every record of the run) several times per 50,000
    items, a third of the replay's time. Nothing is leaked: it runs again right after."""
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()
