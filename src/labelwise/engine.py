"""Annotate records through one annotator: cache first, budget reserved before every call,
every paid answer written to the cache and the ledger before it is used.

The order of writes is what makes a killed run safe: an answer is committed to the cache the
moment it arrives, and an item's annotation is committed once all its answers are in. A rerun
therefore skips annotated items and replays cached answers without paying for them again.

Items whose answers are all cached are replayed first, ``REPLAY_CHUNK`` at a time: one cache
lookup and one annotation transaction per chunk, nothing reserved or paid. Only the rest are
sent, each through the budget.

An item is done when an annotation exists under its *item key*: the SHA-256 of its record id
and its calls' cache keys (which cover the record's text, the rendered prompt with its few-shot examples,
and every annotator parameter), the template, the repeat and the calibration. Changing any of
them asks again (replayed for free where the very same question was answered before); an
edited record is a new item, never its old label.

A reservation that does not fit waits while calls in flight settle (they usually cost less
than their bound), and the run stops only when nothing is in flight and it still does not fit.
An answer that arrives but cannot be read (``MalformedAnswer``) is that item's error, counted
in the ledger at its reserved bound; the run goes on.

On a shared store (PostgreSQL, or a runner's worker) other processes run the same plans at the
same time: each question is claimed before it is paid (``Store.claim``), a question another
worker is asking is waited for (its answer then read from the cache), and a heartbeat renews
this worker's claims and reservations while it runs, so only a dead worker's lapse.
"""
from __future__ import annotations

import asyncio
import gc
import hashlib
import time
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from typing import Any, AsyncIterator, Callable, Iterator, Mapping, Sequence

from .annotators.base import _RESERVE_MORE, Annotator
from .cost.budget import Budget
from .cost.prices import Price
from .errors import AnnotatorError, BudgetExhausted, ItemError, MalformedAnswer, ParseError
from .store import Store
from .store.cache import QueryKeys, identity_json
from .tasks.base import Task, average_priors
from .types import Query, Record, Response, Usage

ExamplesFor = Callable[[Record], Sequence[Record]]
Plan = tuple[Record, list[Query], list[str], str]  # an item, its queries, their cache keys, its item key
MAX_CONSECUTIVE_FAILURES = 10
REPLAY_CHUNK = 1000  # items per cache lookup and per annotation transaction when replaying
CLAIM_POLL_S = 0.05  # first wait for a question another worker is asking (doubles, up to 1 s)


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
    stop_cause: str | None = None  # "budget" or "backend" when the run stopped with items pending
    last_failure: str | None = None
    calibration: Mapping[str, Any] | None = None
    gold: Mapping[str, Any] | None = None  # accuracy on the gold questions of the stream (GoldWatch.as_json)
    rerouted: list = field(default_factory=list)  # earlier annotators the gold questions rerouted from

    @property
    def pending(self) -> int:
        return self.total - self.already_done - self.annotated


class _Stop(Exception):
    pass


class _Unreadable(Exception):
    """An answer was paid for but could not be read: the item's error (the message)."""


def item_key(record_id: str, annotator_id: str, template_hash: str, repeat: int, calibration: str,
             call_keys: Sequence[str]) -> str:
    """What one annotation answers, as a full SHA-256 (see the module docstring). The record id
    is part of it: a record that moved replays its answers into an annotation of its own."""
    blob = "\x1f".join((record_id, annotator_id, template_hash, str(repeat), calibration, *call_keys))
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


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
    wait_for_lock: bool = False
    on_progress: Callable[[RunSummary], None] = lambda s: None
    # called with (record, label, error) for every annotation this run writes (gold questions)
    on_annotation: Callable[[Record, Any, str | None], None] | None = None
    summary: RunSummary = field(default_factory=RunSummary)

    def __post_init__(self) -> None:
        self.budget = self.budget.on(self.store)  # its state lives where its calls are settled
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
        self._held = 0  # budget reservations of calls in flight in this run
        self._extending = 0  # ... of which waiting to hold more (they give nothing back while they wait)
        self._settled: asyncio.Event | None = None  # set (and replaced) whenever one is given back
        self._calibration = self._calibration_id()

    def _calibration_id(self) -> str:
        """Part of every item key: which content-free questions the prior comes from, if any."""
        if not self.calibrate:
            return ""
        keys = [self._key(q) for qs in self.task.content_free_queries(self.calibration_examples) for q in qs]
        return "calibrated:" + hashlib.sha256(",".join(keys).encode()).hexdigest()

    def plan(self, records: Sequence[Record]) -> list[Plan]:
        """Each record's queries, their cache keys and its item key (pure: nothing is asked)."""
        task, key, examples_for, aid, th = self.task, self._key, self.examples_for, self._annotator_id, \
            self.task.template_hash
        plans: list[Plan] = []
        for r in records:
            queries = task.queries(r, examples_for(r) if examples_for else ())
            keys = [key(q) for q in queries]
            plans.append((r, queries, keys, item_key(r.id, aid, th, self.repeat, self._calibration, keys)))
        return plans

    def _cost(self, r: Response) -> float:
        return self.price.cost(r.usage) if self.price else 0.0

    # -- one call -----------------------------------------------------------------------------
    async def _reserve(self, money: float = 0.0, tokens: int = 0, requests: int = 0, items: int = 0) -> int:
        """A budget reservation; waits while calls in flight may still give some back, and
        stops the run (``_Stop``) once nothing is in flight and it still does not fit."""
        while True:
            if self.summary.stopped:
                raise _Stop()
            try:
                return self.budget.reserve(money, tokens, requests, items)
            except BudgetExhausted as e:
                if self._held > 0:
                    if self._settled is None:
                        self._settled = asyncio.Event()
                    await self._settled.wait()
                    continue
                if not self.summary.stopped:
                    self.summary.stopped = self.budget.overspent() or str(e)
                    self.summary.stop_cause = "budget"
                raise _Stop() from None

    async def _extend(self, reservation: int, money: float, tokens: int, requests: int) -> None:
        """More for a call in flight; waits while *other* calls may give some back."""
        while True:
            try:
                return self.budget.extend(reservation, money, tokens, requests)
            except BudgetExhausted:
                if self._held - self._extending <= 1:  # no other call can give anything back
                    raise
                if self._settled is None:
                    self._settled = asyncio.Event()
                self._extending += 1
                try:
                    await self._settled.wait()
                finally:
                    self._extending -= 1

    def _given_back(self) -> None:
        self._held -= 1
        if self._settled is not None:
            self._settled.set()
            self._settled = None

    async def _ask(self, key: str, query: Query, sem: asyncio.Semaphore) -> Response:
        if key in self._cached:
            return self._cached[key]
        if key in self._inflight:  # the same question asked twice in one run is paid once
            return await asyncio.shield(self._inflight[key])
        fut: asyncio.Future[Response] = asyncio.get_running_loop().create_future()
        self._inflight[key] = fut
        try:
            wait = CLAIM_POLL_S
            while True:
                async with sem:
                    claim = self.store.claim(key) if self.store.shared else "won"
                    if claim == "won":
                        try:
                            resp = await self._pay(key, query)
                        except BaseException:
                            if self.store.shared:  # not paid (or already written): another worker may ask
                                self.store.release_claim(key)
                            raise
                        break
                    if claim == "answered":  # another worker paid for it meanwhile
                        resp = self.store.cache_get_many([key])[key]
                        self.summary.from_cache += 1
                        break
                await asyncio.sleep(wait)  # "held": another live worker is asking it now
                wait = min(wait * 2, 1.0)
            self._cached[key] = resp
            fut.set_result(resp)
            return resp
        except BaseException as e:
            fut.set_exception(e)
            fut.exception()  # mark retrieved: waiters re-raise it themselves
            raise
        finally:
            self._inflight.pop(key, None)

    async def _pay(self, key: str, query: Query) -> Response:
        """Reserve, send, and write the answer to the cache and the ledger (with its claim won,
        on a shared store): the one place a call is paid for."""
        bound = self.annotator.max_usage(query)
        max_money = self.price.cost(bound) if self.price else 0.0
        max_requests = getattr(self.annotator, "max_requests", lambda q: 1)(query)
        reservation = await self._reserve(max_money, bound.total_tokens, max_requests)
        self._held += 1
        held = [max_money, bound.prompt_tokens, bound.completion_tokens, max_requests]  # grows with more

        async def more(usage: Usage, requests: int) -> None:
            money = self.price.cost(usage) if self.price else 0.0
            await self._extend(reservation, money, usage.total_tokens, requests)
            held[0] += money
            held[1] += usage.prompt_tokens
            held[2] += usage.completion_tokens
            held[3] += requests

        token = _RESERVE_MORE.set(more)
        try:
            try:
                resp = await self.annotator.answer(query)
            except BudgetExhausted as e:  # it needed more than fits (reserve_more): not sent
                paid = getattr(e, "paid", None)  # (usage, requests, raw) already answered, if any
                if paid is None:
                    self.budget.release(reservation)
                else:
                    cost = self.price.cost(paid[0]) if self.price else 0.0
                    self.store.record_failed_call(key, query.as_json(), self._annotator_id, str(e), paid[2],
                                                  paid[0].prompt_tokens, paid[0].completion_tokens, cost,
                                                  paid[1], reservation)
                    self.summary.calls += 1
                    self.summary.money += cost
                if not self.summary.stopped:
                    self.summary.stopped, self.summary.stop_cause = str(e), "budget"
                raise _Stop() from None
            except AnnotatorError as e:
                if isinstance(e, MalformedAnswer):
                    raise
                self.budget.release(reservation)
                self._note_failure(e)
                raise
            except Exception as e:  # answered or not, we cannot tell: counted as paid, at its bound
                raise MalformedAnswer(f"the backend failed reading the answer ({type(e).__name__}: {e})",
                                      raw=None) from e
            except BaseException:
                self.budget.release(reservation)
                raise
        except MalformedAnswer as e:
            self.store.record_failed_call(key, query.as_json(), self._annotator_id, str(e), e.raw,
                                          held[1], held[2], held[0], held[3], reservation)
            self.summary.calls += 1
            self.summary.money += held[0]
            raise _Unreadable(f"MalformedAnswer: {e}") from None
        finally:
            _RESERVE_MORE.reset(token)
            # wakes waiting reservations; they run at the next await, after record_call below
            # has settled this one in the same step (no await in between)
            self._given_back()
        self._consecutive_failures = 0
        cost = self._cost(resp)
        self.store.record_call(key, self._identity, query.as_json(), resp, self._annotator_id, cost,
                               reservation)
        self.summary.calls += 1
        self.summary.money += cost
        self.summary.prompt_tokens += resp.usage.prompt_tokens
        self.summary.completion_tokens += resp.usage.completion_tokens
        return resp

    def _note_failure(self, e: AnnotatorError) -> None:
        """Stop sending once the backend has failed many times in a row (it is down, not flaky)."""
        self.summary.last_failure = str(e)
        self._consecutive_failures += 1
        if self._consecutive_failures >= MAX_CONSECUTIVE_FAILURES and not self.summary.stopped:
            self.summary.stopped = f"{MAX_CONSECUTIVE_FAILURES} calls failed in a row; last: {e}"
            self.summary.stop_cause = "backend"

    # -- one item -----------------------------------------------------------------------------
    def _annotation(self, record: Record, keys: list[str], ikey: str, responses: list[Response],
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
                tuple(keys) if responses or error else (), prompt_tokens, completion_tokens, cost, latency,
                self.repeat, ikey)

    async def _item(self, plan: Plan, sem: asyncio.Semaphore, prior: list[Mapping[str, float]] | None) -> None:
        record, queries, keys, ikey = plan
        item_res = None
        try:
            if self.budget.limit.get("items") is not None and any(k not in self._cached for k in keys):
                item_res = await self._reserve(items=1)  # an item bought: its first paid call reserves it
                self._held += 1
            if len(queries) == 1:  # the common case: no extra task per item
                responses = [await self._ask(keys[0], queries[0], sem)]
            else:
                responses = list(await asyncio.gather(*[self._ask(k, q, sem) for k, q in zip(keys, queries)]))
            ann = self._annotation(record, keys, ikey, responses, prior)
        except ItemError as e:
            ann = self._annotation(record, keys, ikey, [], prior, error=f"ItemError: {e}")
        except _Unreadable as e:
            ann = self._annotation(record, keys, ikey, [], prior, error=str(e))
        except _Stop:
            self._release_item(item_res)
            return
        except AnnotatorError:  # left pending: a rerun tries again
            self._release_item(item_res)
            self.summary.failed += 1
            self.on_progress(self.summary)
            return
        except BaseException:
            self._release_item(item_res)
            raise
        self.store.add_annotation_values([ann], settle_items=() if item_res is None else (item_res,))
        if item_res is not None:
            self._given_back()
        self.summary.annotated += 1
        if self.on_annotation is not None:
            self.on_annotation(record, ann[3], ann[5])
        self.on_progress(self.summary)

    def _release_item(self, reservation: int | None) -> None:
        if reservation is not None:
            self.budget.release(reservation)
            self._given_back()

    async def _prior(self, sem: asyncio.Semaphore) -> list[Mapping[str, float]] | None:
        per_input = self.task.content_free_queries(self.calibration_examples)
        keys_per_input = [[self._key(q) for q in queries] for queries in per_input]
        # answered by an earlier run: replayed from the cache like any other answer, not paid again
        self._cached.update(self.store.cache_get_many([k for keys in keys_per_input for k in keys]))
        answers = []
        try:
            for queries, keys in zip(per_input, keys_per_input):
                answers.append(await asyncio.gather(*[self._ask(k, q, sem) for k, q in zip(keys, queries)]))
        except _Unreadable as e:
            self.summary.stopped = f"the calibration answers could not be read: {e}"
            self.summary.stop_cause = "backend"
            raise _Stop() from None
        if any(r.choice_logprobs is None for rs in answers for r in rs):
            self.summary.calibration = {"applied": False, "why": "the backend gives no log-probabilities"}
            return None
        prior = [average_priors([rs[i].choice_logprobs for rs in answers]) for i in range(len(answers[0]))]
        self.summary.calibration = {"applied": True, "prior": prior}
        return prior

    # -- the run ------------------------------------------------------------------------------
    def _replay(self, plans: Sequence[Plan], prior: list[Mapping[str, float]] | None) -> list[Plan]:
        """Annotate the items of ``plans`` whose answers are all in the cache, with one cache
        lookup and one transaction; return the other plans, which need calls.

        Replay pays nothing and writes only annotations, so a kill loses at most this chunk's
        (free) work; nothing it writes can be paid for twice."""
        cached = self._cached
        found = self.store.cache_get_many([k for _, _, keys, _ in plans for k in keys if k not in cached])
        anns, to_ask, replayed = [], [], 0
        for plan in plans:
            r, _, keys, ikey = plan
            responses = []
            for k in keys:
                resp = found.get(k)
                if resp is None:
                    resp = cached.get(k)
                    if resp is None:
                        break
                responses.append(resp)
            else:
                anns.append(self._annotation(r, keys, ikey, responses, prior))
                replayed += len(keys)
                continue
            cached.update((k, found[k]) for k in keys if k in found)  # what it has, _ask replays
            to_ask.append(plan)
        if anns:
            self.store.add_annotation_values(anns)
            self.summary.annotated += len(anns)
            self.summary.from_cache += replayed
            if self.on_annotation is not None:
                by_id = {plan[0].id: plan[0] for plan in plans}
                for ann in anns:
                    self.on_annotation(by_id[ann[0]], ann[3], ann[5])
        return to_ask

    def key_of(self, query: Query) -> str:
        """The cache key this run asks ``query`` under."""
        return self._key(query)

    async def ask(self, queries: Sequence[Query]) -> list[dict[str, Any]]:
        """Answer bare queries (probes, not task items: no annotation is stored) through the same
        path as items: cache, budget, ledger. Each result is {"response", "from_cache", "cost"}
        or {"error"}; the same query twice is asked once."""
        keys = [self._key(q) for q in queries]
        cached = self.store.cache_get_many(keys)
        self._cached.update(cached)
        sem = asyncio.Semaphore(self.concurrency)

        async def one(key: str, query: Query) -> dict[str, Any]:
            if key in cached:
                return {"response": cached[key], "from_cache": True, "cost": 0.0}
            try:
                resp = await self._ask(key, query, sem)
            except _Stop:
                return {"error": f"not asked: {self.summary.stopped}"}
            except _Unreadable as e:
                return {"error": str(e)}
            except (AnnotatorError, ItemError) as e:
                return {"error": f"{type(e).__name__}: {e}"}
            return {"response": resp, "from_cache": False, "cost": self._cost(resp)}

        with self.store.lock("ask", wait=self.wait_for_lock):
            async with self._heartbeat():
                return list(await asyncio.gather(*[one(k, q) for k, q in zip(keys, queries)]))

    @asynccontextmanager
    async def _heartbeat(self) -> AsyncIterator[None]:
        """On a shared store, renew this worker's claims and reservations while the body runs."""
        if not self.store.shared:
            yield
            return

        async def beat() -> None:
            while True:
                await asyncio.sleep(self.store.lease_s / 4)
                self.store.renew()

        task = asyncio.ensure_future(beat())
        try:
            yield
        finally:
            task.cancel()

    def pending(self, records: Sequence[Record]) -> tuple[list[Plan], dict[str, Any]]:
        """The plans of the records not yet annotated as asked now, and the current annotation
        (by record id) of the others."""
        plans = self.plan(records)
        done = self.store.annotations_by_item_key([p[3] for p in plans])
        current = {p[0].id: done[p[3]] for p in plans if p[3] in done}
        return [p for p in plans if p[3] not in done], current

    async def run(self, records: Sequence[Record], limit: int | None = None) -> RunSummary:
        """Annotate the records that are not done (at most ``limit`` of them)."""
        t0 = time.perf_counter()
        s = self.summary
        s.total = len(records)
        try:
            with self.store.lock("annotate", wait=self.wait_for_lock):
                async with self._heartbeat():
                    await self._run(records, limit)
        finally:
            s.seconds = time.perf_counter() - t0
        return s

    async def _run(self, records: Sequence[Record], limit: int | None) -> None:
        s = self.summary
        pending: list[Plan] = []
        for i in range(0, len(records), REPLAY_CHUNK):
            todo, _ = self.pending(records[i:i + REPLAY_CHUNK])
            pending += todo
        if limit is not None:
            s.total = len(records) - len(pending) + min(limit, len(pending))
            pending = pending[:limit]
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
            to_ask = run_order(self.annotator, to_ask)
            if self.store.shared and to_ask:  # workers with the same plans start at different items
                start = int(hashlib.sha256(self.store.owner.encode()).hexdigest(), 16) % len(to_ask)
                to_ask = to_ask[start:] + to_ask[:start]
            await asyncio.gather(*[self._item(plan, sem, prior) for plan in to_ask])
        except _Stop:
            pass


def run_order(annotator: Annotator, plans: Sequence[Plan]) -> list[Plan]:
    """The order the engine asks its plans in: as given, or, for an annotator that keeps the
    last prompt's prefix in its KV cache (``reuses_prefix``: the embedded model), sorted by
    :func:`_shared_prefix_order`. ``estimate`` predicts a run's time from this same order."""
    return sorted(plans, key=_shared_prefix_order) if getattr(annotator, "reuses_prefix", False) else list(plans)


def _shared_prefix_order(plan: Plan) -> tuple[tuple[str, str], ...]:
    """Sort key that puts items whose prompts share leading messages (the same few-shot
    examples) next to each other: an annotator that keeps the last prompt's prefix in its KV
    cache (the embedded model) then evaluates only what differs. Python's sort is stable, so
    items that differ only in their own message (zero-shot, fixed examples) keep their order."""
    queries = plan[1]
    return tuple((m.role, m.content) for m in queries[0].messages[:-1]) if queries else ()


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
