"""The store protocol, run against both backends: a SQLite file and a real, throw-away PostgreSQL
database (tests/pg.py). Every public method a workflow uses is exercised here, through the Store
only (no SQL in the tests), so the two backends are held to the same behaviour."""
import threading
import time

import numpy as np
import pytest

from labelwise.cost import Budget
from labelwise.errors import BudgetExhausted, LabelwiseError
from labelwise.models.encoder import encode_cached
from labelwise.store import Store
from labelwise.types import Annotation, Record, Response, Usage


def ann(rid, label="positive", repeat=0, item_key=None, annotator="fake/x", keys=()):
    return Annotation(record_id=rid, annotator_id=annotator, template_hash="h", label=label,
                      distribution={label: 1.0} if label else None, error=None, call_keys=keys, prompt_tokens=1,
                      completion_tokens=1, cost=0.5, latency_s=0.25, repeat=repeat,
                      item_key=item_key or f"{rid}/{repeat}")


def test_records_and_annotations_round_trip(store_at):
    s = Store(store_at)
    recs = [Record("a", {"text": "x é"}, gold=("l1", "l2"), domain="d", split="test"), Record("b", {"text": "y"})]
    s.put_records(recs)
    s.put_records(recs)  # idempotent
    got = s.records()
    assert [r.id for r in got] == ["a", "b"] and got[0].gold == ("l1", "l2") and got[0].fields == {"text": "x é"}
    assert got[0].domain == "d" and got[0].split == "test" and got[1].gold is None
    assert s.add_annotations([ann("a"), ann("b", label=None)]) == 2
    assert s.add_annotations([ann("a", label="negative")]) == 0  # same item key: the first is kept
    s.add_annotations([ann("a", repeat=1)])
    assert [a.label for a in s.annotations()] == ["positive", None]
    assert s.annotations(repeat=None)[2].repeat == 1
    assert s.annotated_ids("fake/x", "h") == {"a", "b"} and s.annotated_ids("fake/x", "h", 1) == {"a"}
    found = s.annotations_by_item_key(["a/0", "nope", "a/1"])
    assert sorted(found) == ["a/0", "a/1"] and found["a/0"] == ann("a")


def test_calls_are_cached_ledgered_and_audited(store_at):
    s = Store(store_at)
    s.record_call("k1", {"m": 1}, {"q": 1}, Response(text="a", usage=Usage(10, 2), latency_s=0.5, raw={"id": 7}),
                  "fake/x", 0.25)
    s.record_failed_call("k2", {"q": 2}, "fake/x", "unreadable", {"body": "?"}, 5, 1, 0.125, 1)
    assert s.cache_get_many(["k1", "k2", "k1"])["k1"].usage == Usage(10, 2) and "k2" not in s.cache_get_many(["k2"])
    assert s.spent() == {"calls": 2, "requests": 2, "items": 0, "tokens": 18, "money": 0.375, "seconds": 0.5}
    assert s.spent_by_annotator() == {"fake/x": {"calls": 2, "money": 0.375, "seconds": 0.5}}
    a = ann("r", keys=("k1", "k2"))
    calls = s.calls(a)
    assert calls[0]["response"]["text"] == "a" and calls[0]["raw"] == {"id": 7} and calls[0]["query"] == {"q": 1}
    assert calls[1]["error"] == "unreadable" and calls[1]["raw"] == {"body": "?"}
    assert [r[2] for r in s.ledger_rows()] == ["k1", "k2"]
    # another connection (another process) sees it at once
    assert Store(store_at).cache_get_many(["k1"])["k1"].text == "a"


def test_many_keys_in_one_cache_lookup(store_at):
    s = Store(store_at)
    for i in range(1000):
        s.record_call(f"k{i}", {}, {"q": i}, Response(choice_logprobs={"a": -0.1 * i}, usage=Usage(i, 1)), "f/x", 0.0)
    got = s.cache_get_many([f"k{i}" for i in range(0, 1000, 3)] + ["missing", "k3"])
    assert len(got) == 334 and got["k999"].choice_logprobs == {"a": -0.1 * 999} and "missing" not in got


def test_budget_is_one_budget_for_every_connection(store_at):
    a, b = Store(store_at), Store(store_at)  # as two workers would open it
    ba, bb = Budget(requests=3, money=1.0, store=a), Budget(requests=3, money=1.0, store=b)
    r1 = ba.reserve(0.25, 10, requests=1)
    bb.reserve(0.25, 10, requests=1)
    ba.extend(r1, 0.25, 0, requests=1)
    with pytest.raises(BudgetExhausted):
        bb.reserve(0.1, 1, requests=1)
    a.record_call("k", {}, {}, Response(usage=Usage(1, 1)), "f/x", 0.125, reservation=r1)  # settles r1: 2 requests held
    spent, held = b.budget_state()
    assert spent == {"money": 0.125, "requests": 1, "items": 0, "tokens": 2}
    assert held == {"money": 0.25, "requests": 1, "items": 0, "tokens": 10}
    assert isinstance(held["requests"], int) and isinstance(spent["money"], float)
    bb.reserve(0.1, 1, requests=1)  # fits now: 1 spent + 1 held + 1
    with pytest.raises(BudgetExhausted):
        ba.reserve(0.0, 1, requests=1)


def test_concurrent_reservations_never_pass_the_limit(store_at):
    stores = [Store(store_at) for _ in range(4)]
    granted, errors = [], []

    def worker(st):
        budget = Budget(requests=25, store=st)
        for _ in range(20):
            try:
                granted.append(budget.reserve(0.0, 1, requests=1))
            except BudgetExhausted:
                pass
            except Exception as e:  # noqa: BLE001 - any other failure fails the test below
                errors.append(e)

    threads = [threading.Thread(target=worker, args=(st,)) for st in stores]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and len(granted) == 25 and len(set(granted)) == 25
    assert stores[0].budget_state()[1]["requests"] == 25


def test_claims_make_one_worker_pay_and_a_dead_ones_lapse(store_at):
    a, b = Store(store_at, worker=True), Store(store_at, worker=True)
    assert a.claim("k") == "won"
    assert b.claim("k") == "held"  # a is asking it
    a.record_call("k", {}, {}, Response(text="x"), "f/x", 0.0)  # answer and claim, one transaction
    assert b.claim("k") == "answered"
    assert a.claim("k2") == "won"
    a.release_claim("k2")  # the call failed unanswered: free for anyone
    assert b.claim("k2") == "won"
    b.lease_s = 0.2
    assert b.claim("k3") == "won"
    time.sleep(0.3)
    assert a.claim("k3") == "won"  # b stopped renewing (dead): its lease lapsed, a takes over
    assert b.claim("k3") == "held"
    a.lease_s = 0.2
    assert a.claim("k4") == "won"
    time.sleep(0.1)
    a.lease_s = 60
    a.renew()  # the heartbeat: k4 and k3 are a's for another minute
    time.sleep(0.2)
    assert b.claim("k4") == "held"


@pytest.mark.external
def test_a_dead_workers_reservations_stay_counted(postgres):
    """(SQLite's lock gives a dead holder's reservations back instead: nobody else can have made them.)"""
    store_at = postgres.new_database()
    a = Store(store_at)
    Budget(requests=2, store=a).reserve(0, 1, requests=2)
    a.close()  # the worker died with its call in flight; it may have been paid
    b = Store(store_at)
    with b.lock("annotate"):  # a shared store takes no lock, and gives nothing back
        with pytest.raises(BudgetExhausted):
            Budget(requests=2, store=b).reserve(0, 1, requests=1)


def test_rounds_routing_review_queue_and_kv(store_at):
    s = Store(store_at)
    s.put_round("run1", 1, {"a": "positive"}, {"acc": 0.5})
    s.put_round("run1", 1, {"a": "negative"}, {"acc": 0.75})  # replaced
    s.put_round("run1", 2, {}, {"acc": 0.8})
    assert s.rounds("run1") == [("run1", 1, {"a": "negative"}, {"acc": 0.75}), ("run1", 2, {}, {"acc": 0.8})]
    s.put_routed("r", [("a", "llm", "positive", 0.9, True), ("b", "human", ("x", "y"), None, False)])
    s.put_routed("r", [("a", "small", "negative", 0.5, False)])
    assert s.routed("r") == {"a": ("small", "negative", 0.5, False), "b": ("human", ("x", "y"), None, False)}
    assert s.queue_for_review("r", ["a", "b"], "uncertain") == 2
    assert s.queue_for_review("r", ["a"], "again") == 0
    s.flag_for_review("r2", "b", "second look")
    assert s.review_queue() == [("a", "r", "uncertain"), ("b", "r2", "second look")]
    s.set_kv("prior", {"a": 0.25})
    s.set_kv("prior", {"a": 0.5})
    assert s.get_kv("prior") == {"a": 0.5} and s.get_kv("none") is None


def test_reviewers_sessions_and_versioned_answers(store_at):
    s = Store(store_at)
    s.add_reviewer("ann", "h1")
    s.put_session("sid", "ann", "csrf")
    assert s.reviewer_by_token("h1") == "ann" and s.session("sid") == ("ann", "csrf")
    s.add_reviewer("ann", "h2")  # a new token ends the old sessions
    assert s.reviewer_by_token("h1") is None and s.session("sid") is None and s.reviewers() == ["ann"]
    human = ann("a", annotator="human/ann", item_key="human/ann/a")
    assert s.put_human_answer(human, "ann", 0) == 1
    assert s.put_human_answer(human, "ann", 0) == -1  # a stale page writes nothing
    assert s.put_human_answer(ann("a", "negative", annotator="human/ann", item_key="human/ann/a"), "ann", 1) == 2
    assert [a.label for a in s.human_annotations("h")] == ["negative"]
    assert s.human_answerers("h") == {"a": {"ann"}} and s.last_human_answer("ann") == "a"
    assert s.delete_human_answer("a", "ann", "human/ann", 2) == 3
    assert s.human_annotations("h") == [] and s.answer_versions("ann") == {"a": 3}
    assert s.last_human_answer("ann") is None


def test_embeddings_are_stored_by_encoder_and_text(store_at):
    class Counting:
        name = "enc"
        calls = 0

        def encode(self, texts):
            Counting.calls += len(texts)
            return np.array([[len(t), 1.0] for t in texts], dtype=np.float32)

    s = Store(store_at)
    first = encode_cached(Counting(), ["ab", "abc", "ab"], s)
    again = encode_cached(Counting(), ["abc", "ab"], Store(store_at))
    assert Counting.calls == 2  # two distinct texts, encoded once each
    assert first.tolist() == [[2, 1], [3, 1], [2, 1]] and again.tolist() == [[3, 1], [2, 1]]


def test_a_worker_needs_its_driver_to_hold_the_sqlite_lock(tmp_path):
    driver, worker = Store(tmp_path / "p.db"), Store(tmp_path / "p.db", worker=True)
    with pytest.raises(LabelwiseError, match="nobody holds it"):
        with worker.lock("annotate"):
            pass
    with driver.lock("annotate"):
        with worker.lock("annotate"):  # works under the driver's lock, claiming what it pays
            assert worker.shared and worker.claim("k") == "won"


def test_a_bad_postgres_url_is_a_clear_error():
    with pytest.raises(LabelwiseError, match=r"store.url postgresql://u:\*\*\*@127.0.0.1:1/x: cannot connect"):
        Store("postgresql://u:secret@127.0.0.1:1/x")
