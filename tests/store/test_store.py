import dataclasses
import sqlite3

import pytest

from labelwise.store import Store, cache_key
from labelwise.store.database import ANNOTATION_FIELDS
from labelwise.types import Annotation, Message, Query, Record, Response, Usage


def ann(rid, label="positive", repeat=0, item_key=None):
    return Annotation(record_id=rid, annotator_id="fake/x", template_hash="h", label=label, distribution={label: 1.0},
                      error=None, call_keys=(), prompt_tokens=1, completion_tokens=1, cost=0.0,
                      latency_s=0.0, repeat=repeat, item_key=item_key or f"{rid}/{repeat}")


def test_wal_mode_and_records_round_trip(tmp_path):
    s = Store(tmp_path / "p.db")
    assert s.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    s.put_records([Record("a", {"text": "x"}, gold=("l1", "l2"), domain="d"), Record("b", {"text": "y"})])
    s.put_records([Record("a", {"text": "x"}, gold=("l1", "l2"), domain="d"), Record("b", {"text": "y"})])
    recs = s.records()
    assert [r.id for r in recs] == ["a", "b"] and recs[0].gold == ("l1", "l2") and recs[0].domain == "d"


def test_one_annotation_per_item_key(tmp_path):
    s = Store(tmp_path / "p.db")
    assert s.add_annotations([ann("a"), ann("b")]) == 2
    assert s.add_annotations([ann("a", label="negative")]) == 0  # the same item key: the first one is kept
    s.add_annotations([ann("a", repeat=1)])
    assert [a.label for a in s.annotations()] == ["positive", "positive"]
    assert s.annotated_ids("fake/x", "h") == {"a", "b"} and s.annotated_ids("fake/x", "h", 1) == {"a"}
    # the same record asked another way (edited text, other examples...) is another item
    assert s.add_annotations([ann("a", label="negative", item_key="a/edited")]) == 1
    found = s.annotations_by_item_key(["a/0", "a/edited", "nope"])
    assert {k: a.label for k, a in found.items()} == {"a/0": "positive", "a/edited": "negative"}


def test_a_database_of_the_previous_schema_is_migrated_keeping_every_row(tmp_path):
    path = tmp_path / "old.db"
    db = sqlite3.connect(path)
    db.executescript(
        "CREATE TABLE annotations (id INTEGER PRIMARY KEY, record_id TEXT NOT NULL, annotator_id TEXT NOT NULL, "
        "template_hash TEXT NOT NULL, repeat INTEGER NOT NULL DEFAULT 0, label TEXT, distribution TEXT, error TEXT, "
        "call_keys TEXT NOT NULL, prompt_tokens INTEGER NOT NULL, completion_tokens INTEGER NOT NULL, cost REAL NOT "
        "NULL, latency_s REAL NOT NULL, created_at REAL NOT NULL, UNIQUE (record_id, annotator_id, template_hash, repeat));"
        "CREATE TABLE ledger (id INTEGER PRIMARY KEY, ts REAL NOT NULL, annotator_id TEXT NOT NULL, cache_key TEXT "
        "NOT NULL, prompt_tokens INTEGER NOT NULL, completion_tokens INTEGER NOT NULL, cost REAL NOT NULL, "
        "latency_s REAL NOT NULL);"
        "INSERT INTO annotations VALUES (1,'a','fake/x','h',0,'\"positive\"','null',NULL,'k1',10,2,0.5,0.1,0);"
        "INSERT INTO ledger VALUES (1,0,'fake/x','k1',10,2,0.5,0.1);")
    db.commit()
    db.close()
    s = Store(path)
    (a,) = s.annotations()
    assert a.label == "positive" and a.call_keys == ("k1",) and a.item_key is None
    assert s.spent() == {"calls": 1, "requests": 1, "items": 1, "tokens": 12, "money": 0.5, "seconds": 0.1}
    assert s.add_annotations([ann("a", label="negative", item_key="new")]) == 1  # no old unique constraint left


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
    assert s.spent() == {"calls": 1, "requests": 1, "items": 0, "tokens": 12, "money": 0.25, "seconds": 0.5}
    # visible to a second connection (another process) at once
    other = sqlite3.connect(tmp_path / "p.db")
    assert other.execute("SELECT COUNT(*) FROM ledger").fetchone()[0] == 1


def _cached_store(tmp_path, n):
    s = Store(tmp_path / "p.db")
    for i in range(n):
        s.record_call(f"k{i}", {"m": 1}, {"q": i}, Response(choice_logprobs={"a": -0.1 * i, "b": -1.0},
                                                             usage=Usage(i, 1), latency_s=0.01 * i), "fake/x", 0.0)
    return s


def test_cache_lookup_by_json_array_and_by_in_list_agree(tmp_path):
    """Many keys (more than one IN list's worth), repeats and misses: both SQL forms agree."""
    s = _cached_store(tmp_path, 1200)
    keys = [f"k{i}" for i in range(0, 1200, 2)] + ["k3", "k3", "missing", "k1199"] + [f"k{i}" for i in range(901, 1000)]
    by_json = s.cache_get_many(keys)
    s._json_each = False  # as on a SQLite built without the JSON functions
    by_in = s.cache_get_many(keys)
    assert by_json == by_in and len(by_json) == 600 + 1 + 1 + 50  # evens, k3, k1199 and the odd 901..999
    assert by_json["k3"] == Response(choice_logprobs={"a": -0.30000000000000004, "b": -1.0}, usage=Usage(3, 1),
                                     latency_s=0.03)
    assert s.cache_get_many([]) == {} and "missing" not in by_json


def test_annotation_values_are_stored_as_annotations_are(tmp_path):
    a = Annotation(record_id="r1", annotator_id="fake/x", template_hash="h", label=("l1", "l2"),
                   distribution={"l1": 0.75, "l2": 0.5}, error=None, call_keys=("k1", "k2"), prompt_tokens=3,
                   completion_tokens=2, cost=0.125, latency_s=0.5, repeat=1)
    b = Annotation(record_id="r2", annotator_id="fake/x", template_hash="h", label=None, distribution=None,
                   error="ParseError: é", call_keys=(), prompt_tokens=0, completion_tokens=0, cost=0.0,
                   latency_s=0.0, repeat=0)
    one, two = Store(tmp_path / "one.db"), Store(tmp_path / "two.db")
    assert one.add_annotations([a, b]) == 2
    assert two.add_annotation_values([tuple(getattr(x, f) for f in ANNOTATION_FIELDS) for x in (a, b)]) == 2
    cols = "record_id, annotator_id, template_hash, repeat, label, distribution, error, call_keys, " \
           "prompt_tokens, completion_tokens, cost, latency_s"
    rows = [st.db.execute(f"SELECT {cols} FROM annotations ORDER BY id").fetchall() for st in (one, two)]
    assert rows[0] == rows[1]
    assert one.annotations(repeat=None) == [a, b] == two.annotations(repeat=None)
    assert tuple(f.name for f in dataclasses.fields(Annotation)) == ANNOTATION_FIELDS


@pytest.mark.slow
def test_processes_opening_a_new_database_together_all_get_it(tmp_path):
    """Switching a new file to WAL fails at once ("database is locked") while another process
    creates it; a runner's workers open the store together, so opening waits and retries.
    (Seen once in 25 trials of 6 processes before the retry: 20 trials catch it most times.)"""
    import subprocess
    import sys
    code = "import sys; from labelwise.store import Store; Store(sys.argv[1]).set_kv(sys.argv[2], 1)"
    for trial in range(20):
        path = tmp_path / f"new{trial}.db"
        procs = [subprocess.Popen([sys.executable, "-c", code, str(path), f"k{i}"], stderr=subprocess.PIPE, text=True)
                 for i in range(6)]
        errs = [p.communicate(timeout=60)[1] for p in procs]
        assert [p.returncode for p in procs] == [0] * 6, errs
        assert all(Store(path).get_kv(f"k{i}") == 1 for i in range(6))
