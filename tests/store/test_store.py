import sqlite3

from labelwise.store import Store, cache_key
from labelwise.types import Annotation, Message, Query, Record, Response, Usage


def ann(rid, label="positive", repeat=0):
    return Annotation(record_id=rid, annotator_id="fake/x", template_hash="h", label=label, distribution={label: 1.0},
                      error=None, call_keys=(), prompt_tokens=1, completion_tokens=1, cost=0.0,
                      latency_s=0.0, repeat=repeat)


def test_wal_mode_and_records_round_trip(tmp_path):
    s = Store(tmp_path / "p.db")
    assert s.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    s.put_records([Record("a", {"text": "x"}, gold=("l1", "l2"), domain="d"), Record("b", {"text": "y"})])
    s.put_records([Record("a", {"text": "x"}, gold=("l1", "l2"), domain="d"), Record("b", {"text": "y"})])
    recs = s.records()
    assert [r.id for r in recs] == ["a", "b"] and recs[0].gold == ("l1", "l2") and recs[0].domain == "d"


def test_one_annotation_per_record_and_repeat(tmp_path):
    s = Store(tmp_path / "p.db")
    assert s.add_annotations([ann("a"), ann("b")]) == 2
    assert s.add_annotations([ann("a", label="negative")]) == 0  # the first one is kept
    s.add_annotations([ann("a", repeat=1)])
    assert [a.label for a in s.annotations()] == ["positive", "positive"]
    assert s.annotated_ids("fake/x", "h") == {"a", "b"} and s.annotated_ids("fake/x", "h", 1) == {"a"}


def test_cache_key_is_full_sha256_of_everything():
    q = Query((Message("user", "hi"),), choices=("a", "b"))
    k = cache_key({"backend": "x", "model": "m"}, q)
    assert len(k) == 64
    assert k != cache_key({"backend": "x", "model": "m2"}, q)
    assert k != cache_key({"backend": "x", "model": "m"}, Query((Message("user", "hi "),), choices=("a", "b")))
    assert k != cache_key({"backend": "x", "model": "m"}, Query((Message("user", "hi"),), choices=("b", "a")))


def test_call_is_cached_and_ledgered_in_one_transaction(tmp_path):
    s = Store(tmp_path / "p.db")
    r = Response(text="a", usage=Usage(10, 2), latency_s=0.5)
    s.record_call("k1", {"m": 1}, {"q": 1}, r, "fake/x", 0.25)
    assert s.cache_get_many(["k1", "k2"])["k1"].usage == Usage(10, 2)
    assert s.spent() == {"calls": 1, "tokens": 12, "money": 0.25, "seconds": 0.5}
    # visible to a second connection (another process) at once
    other = sqlite3.connect(tmp_path / "p.db")
    assert other.execute("SELECT COUNT(*) FROM ledger").fetchone()[0] == 1
