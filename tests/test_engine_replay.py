"""Replaying cached answers: chunked lookups and writes, and the same results as a first run."""
import asyncio
import gc
import math

from labelwise import engine
from labelwise.annotators.fake import FakeAnnotator
from labelwise.config import TaskConfig
from labelwise.cost import Budget
from labelwise.cost.prices import Price
from labelwise.engine import AnnotationRun
from labelwise.store import Store, cache_key
from labelwise.tasks import make_task
from labelwise.types import Record

COLUMNS = ("record_id, annotator_id, template_hash, repeat, label, distribution, error, call_keys, prompt_tokens, "
           "completion_tokens, cost, latency_s")


def keyword(q):
    text = q.messages[-1].content
    if "unsure" in text:
        return "I cannot tell"  # stored as a ParseError, replayed as one
    if q.choices == ("yes", "no"):
        return {"yes": math.log(0.8 if "good" in text else 0.3), "no": math.log(0.2 if "good" in text else 0.7)}
    return {"positive": math.log(0.9 if "good" in text else 0.2), "negative": math.log(0.1 if "good" in text else 0.8)}


def records(n, offset=0):
    return [Record(str(i), {"text": f"item {i} is {['good', 'bad', 'unsure'][i % 3]}"}) for i in range(offset, offset + n)]


def run(task, annotator, store, recs, **kw):
    kw.setdefault("price", Price(2.0, 4.0))
    return asyncio.run(AnnotationRun(task=task, annotator=annotator, store=store, budget=kw.pop("budget", Budget()),
                                     **kw).run(recs))


def stored(store, latency=True):
    """Every stored annotation column but the time it was written (latency: of the answers used)."""
    cols = COLUMNS if latency else COLUMNS.replace(", latency_s", "")
    return store.db.execute(f"SELECT {cols} FROM annotations ORDER BY record_id").fetchall()


def test_replay_across_chunks_with_some_answers_missing(tmp_path, monkeypatch):
    """Part of the run is cached, part is not: cached items replay free, the rest are asked,
    and every stored annotation is the one a single uncached run stores."""
    monkeypatch.setattr(engine, "REPLAY_CHUNK", 7)
    cfg = TaskConfig(kind="multilabel", labels={"good": "", "bad": "", "unsure": ""})
    task = make_task(cfg)
    fresh = Store(tmp_path / "fresh.db")
    run(task, FakeAnnotator(keyword), fresh, records(40))

    store = Store(tmp_path / "p.db")
    fake = FakeAnnotator(keyword)
    first = run(task, fake, store, records(25))  # items 0..24 cached, 25..39 not
    assert first.calls == 75
    store.db.execute("DELETE FROM annotations")
    progress = []
    s = run(task, fake, store, records(40), on_progress=lambda s: progress.append(s.annotated))
    assert s.annotated == 40 and s.from_cache == 75 and s.calls == 45 and fake.calls == 120
    costs = [c for (c,) in store.db.execute("SELECT cost FROM ledger ORDER BY id")]
    assert len(costs) == 120 and s.money == sum(costs[75:]) > 0  # paid: only the 45 new answers
    assert progress[:6] == [7, 14, 21, 25, 25, 25]  # a progress report per chunk of the replay
    assert stored(store, latency=False) == stored(fresh, latency=False)  # fresh: answers of its own
    assert store.spent()["calls"] == 120


def test_replayed_annotations_are_the_ones_first_stored(tmp_path):
    cfg = TaskConfig(kind="classification", instructions="Sentiment?", labels={"positive": "", "negative": ""})
    task, store = make_task(cfg), Store(tmp_path / "p.db")
    fake = FakeAnnotator(keyword)
    s1 = run(task, fake, store, records(2500))
    before = stored(store)
    store.db.execute("DELETE FROM annotations")
    s2 = run(task, fake, store, records(2500))
    assert s2.calls == 0 and s2.money == 0 and s2.from_cache == 2500 and s2.annotated == 2500
    assert s1.errors == s2.errors == 833  # "unsure" items: errors, stored as such both times
    assert stored(store) == before


def test_few_shot_replay_uses_the_keys_of_cache_key(tmp_path):
    """Few-shot prompts share rendered examples and hashed prefixes; the keys are still
    ``cache_key`` of each item's full query."""
    cfg = TaskConfig(kind="classification", instructions="Sentiment?", labels={"positive": "", "negative": ""})
    task, store = make_task(cfg), Store(tmp_path / "p.db")
    pool = [Record(f"e{i}", {"text": f"example {i} good"}, gold="positive") for i in range(3)]
    examples_for = lambda r: pool[int(r.id) % 2:][:2]  # two different example sets  # noqa: E731
    fake = FakeAnnotator(keyword)
    run(task, fake, store, records(30), examples_for=examples_for)
    ident = fake.identity()
    for ann in store.annotations():
        rec = Record(ann.record_id, {"text": f"item {ann.record_id} is {['good', 'bad', 'unsure'][int(ann.record_id) % 3]}"})
        assert ann.call_keys == tuple(cache_key(ident, q) for q in task.queries(rec, examples_for(rec)))
    store.db.execute("DELETE FROM annotations")
    assert run(task, fake, store, records(30), examples_for=examples_for).calls == 0


def test_calibration_answers_replay_from_the_cache(tmp_path):
    """The content-free calibration questions are paid once, like every other question."""
    cfg = TaskConfig(kind="classification", instructions="Sentiment?", labels={"positive": "", "negative": ""})
    task, store = make_task(cfg), Store(tmp_path / "p.db")
    fake = FakeAnnotator(keyword)
    first = run(task, fake, store, records(9), calibrate=True)
    assert first.calls == 9 + 3 and first.calibration["applied"]
    before = stored(store)
    store.db.execute("DELETE FROM annotations")
    again = run(task, fake, store, records(9), calibrate=True)
    assert again.calls == 0 and again.money == 0 and fake.calls == 12
    assert again.calibration == first.calibration and stored(store) == before


def test_the_garbage_collector_is_left_as_it_was(tmp_path):
    cfg = TaskConfig(kind="classification", instructions="Sentiment?", labels={"positive": "", "negative": ""})
    task, store = make_task(cfg), Store(tmp_path / "p.db")
    assert gc.isenabled()
    run(task, FakeAnnotator(keyword), store, records(5))
    assert gc.isenabled()
    gc.disable()
    try:
        store.db.execute("DELETE FROM annotations")
        run(task, FakeAnnotator(keyword), store, records(5))
        assert not gc.isenabled()
    finally:
        gc.enable()
