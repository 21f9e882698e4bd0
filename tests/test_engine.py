"""The engine with a scripted annotator: cache, budget, errors, resume bookkeeping."""
import asyncio
import math

from labelwise.annotators.fake import FakeAnnotator
from labelwise.cost import Budget
from labelwise.cost.prices import Price
from labelwise.engine import AnnotationRun
from labelwise.errors import AnnotatorError, ItemError
from labelwise.store import Store
from labelwise.tasks import make_task
from labelwise.types import Record


def records(n):
    return [Record(str(i), {"text": f"review number {i} " + ("great" if i % 2 else "awful")},
                   gold="positive" if i % 2 else "negative") for i in range(n)]


def keyword(q):
    text = q.messages[-1].content
    return {"positive": math.log(0.9 if "great" in text else 0.1), "negative": math.log(0.1 if "great" in text else 0.9)}


def run(task, annotator, store, recs, budget=None, price=None, **kw):
    r = AnnotationRun(task=task, annotator=annotator, store=store, budget=budget or Budget(), price=price, **kw)
    return asyncio.run(r.run(recs))


def test_annotates_and_second_run_pays_nothing(tmp_path, sentiment_task_cfg):
    task, store = make_task(sentiment_task_cfg), Store(tmp_path / "p.db")
    fake = FakeAnnotator(keyword)
    s = run(task, fake, store, records(20))
    assert s.annotated == 20 and s.calls == 20 and fake.calls == 20
    anns = store.annotations()
    assert len(anns) == 20 and all(a.error is None for a in anns)
    assert all(a.label == ("positive" if int(a.record_id) % 2 else "negative") for a in anns)
    (call,) = store.calls(anns[0])
    assert call["query"]["messages"][0]["role"] == "system" and call["response"]["choice_logprobs"]
    s2 = run(task, fake, store, records(20))
    assert s2.already_done == 20 and s2.calls == 0 and fake.calls == 20
    # annotations deleted -> everything replays from the cache, still no calls
    store.db.execute("DELETE FROM annotations")
    s3 = run(task, fake, store, records(20))
    assert s3.annotated == 20 and s3.from_cache == 20 and fake.calls == 20
    assert store.spent()["calls"] == 20


def test_budget_in_calls_is_never_exceeded_with_concurrency(tmp_path, sentiment_task_cfg):
    task, store = make_task(sentiment_task_cfg), Store(tmp_path / "p.db")
    fake = FakeAnnotator(keyword, latency_s=0.01)
    s = run(task, fake, store, records(50), budget=Budget(calls=7), concurrency=16)
    assert fake.calls == 7 and s.annotated == 7 and "budget for requests reached: 7 requests spent" in s.stopped
    assert store.spent()["calls"] == store.spent()["requests"] == 7 and s.stop_cause == "budget"


def test_money_budget_reserves_upper_bound(tmp_path, sentiment_task_cfg):
    task, store = make_task(sentiment_task_cfg), Store(tmp_path / "p.db")
    price = Price(input_per_mtok=1000.0, output_per_mtok=1000.0)  # $0.001 per token
    fake = FakeAnnotator(keyword)
    s = run(task, fake, store, records(50), budget=Budget(money=1.0), price=price, concurrency=8)
    assert 0 < s.annotated < 50
    assert store.spent()["money"] <= 1.0


def test_unparsable_answer_is_stored_as_error_never_as_label(tmp_path, sentiment_task_cfg):
    task, store = make_task(sentiment_task_cfg), Store(tmp_path / "p.db")
    fake = FakeAnnotator(lambda q: "I am not sure" if "number 3 " in q.messages[-1].content else "positive")
    s = run(task, fake, store, records(5))
    bad = [a for a in store.annotations() if a.error]
    assert s.errors == 1 and len(bad) == 1 and bad[0].record_id == "3" and bad[0].label is None
    assert store.calls(bad[0])[0]["response"]["text"] == "I am not sure" and "ParseError" in bad[0].error


def test_backend_failure_leaves_items_pending_for_a_rerun(tmp_path, sentiment_task_cfg):
    task, store = make_task(sentiment_task_cfg), Store(tmp_path / "p.db")

    def flaky(q):
        if "number 2 " in q.messages[-1].content:
            raise AnnotatorError("server down")
        return keyword(q)

    s = run(task, FakeAnnotator(flaky), store, records(4))
    assert s.annotated == 3 and s.failed == 1 and "server down" in s.last_failure
    s2 = run(task, FakeAnnotator(keyword), store, records(4))
    assert s2.annotated == 1 and s2.already_done == 3


def test_item_error_is_stored(tmp_path, sentiment_task_cfg):
    task, store = make_task(sentiment_task_cfg), Store(tmp_path / "p.db")

    def too_long(q):
        raise ItemError("prompt too long")

    s = run(task, FakeAnnotator(too_long), store, records(2))
    assert s.errors == 2 and all("ItemError" in a.error for a in store.annotations())


def test_consecutive_failures_stop_the_run(tmp_path, sentiment_task_cfg):
    task, store = make_task(sentiment_task_cfg), Store(tmp_path / "p.db")

    def down(q):
        raise AnnotatorError("connection refused")

    s = run(task, FakeAnnotator(down), store, records(40), concurrency=1)
    assert s.stopped and "in a row" in s.stopped and s.failed == 10


def test_identical_queries_in_one_run_are_paid_once(tmp_path, sentiment_task_cfg):
    task, store = make_task(sentiment_task_cfg), Store(tmp_path / "p.db")
    recs = [Record(str(i), {"text": "same text"}) for i in range(10)]
    fake = FakeAnnotator(keyword, latency_s=0.01)
    s = run(task, fake, store, recs, concurrency=10)
    assert fake.calls == 1 and s.annotated == 10


def test_calibration_removes_a_constant_bias(tmp_path, sentiment_task_cfg):
    task, store = make_task(sentiment_task_cfg), Store(tmp_path / "p.db")

    def biased(q):  # every score gets +3 nats towards 'positive', more than the evidence
        lp = keyword(q)
        text = q.messages[-1].content
        if "review" not in text:  # content-free input: pure bias
            return {"positive": 0.0, "negative": -3.0}
        return {"positive": lp["positive"] + 3.0, "negative": lp["negative"]}

    s = run(task, FakeAnnotator(biased), store, records(10), calibrate=True)
    assert s.calibration["applied"]
    anns = store.annotations()
    assert all(a.label == ("positive" if int(a.record_id) % 2 else "negative") for a in anns)
    other = Store(tmp_path / "q.db")
    run(make_task(sentiment_task_cfg), FakeAnnotator(biased), other, records(10))
    assert {a.label for a in other.annotations()} == {"positive"}  # uncalibrated, the bias wins


def test_repeat_asks_again_instead_of_replaying(tmp_path, sentiment_task_cfg):
    task, store = make_task(sentiment_task_cfg), Store(tmp_path / "p.db")
    fake = FakeAnnotator(keyword)
    run(task, fake, store, records(3))
    run(task, fake, store, records(3), repeat=1)
    assert fake.calls == 6 and len(store.annotations(repeat=1)) == 3
