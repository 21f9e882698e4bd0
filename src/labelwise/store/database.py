"""SQLite project database (WAL). One connection per Store; writes commit per call so that a
``kill -9`` loses at most the call in flight, never one already paid for."""
from __future__ import annotations

import operator
import sqlite3
import time
from pathlib import Path
from typing import Any, Iterable, Iterator, Sequence

from ..jsonutil import dumpb, dumps, loads
from ..types import Annotation, Record, Response

SCHEMA = """
CREATE TABLE IF NOT EXISTS records (
  id TEXT PRIMARY KEY, position INTEGER NOT NULL, fields TEXT NOT NULL, gold TEXT,
  domain TEXT, split TEXT);
CREATE TABLE IF NOT EXISTS annotations (
  id INTEGER PRIMARY KEY, record_id TEXT NOT NULL, annotator_id TEXT NOT NULL,
  template_hash TEXT NOT NULL, repeat INTEGER NOT NULL DEFAULT 0,
  label TEXT, distribution TEXT, error TEXT, call_keys TEXT NOT NULL,
  prompt_tokens INTEGER NOT NULL, completion_tokens INTEGER NOT NULL, cost REAL NOT NULL,
  latency_s REAL NOT NULL, created_at REAL NOT NULL,
  UNIQUE (record_id, annotator_id, template_hash, repeat));
CREATE TABLE IF NOT EXISTS cache (
  key TEXT PRIMARY KEY, annotator TEXT NOT NULL, query TEXT NOT NULL, response TEXT NOT NULL,
  raw TEXT, created_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS ledger (
  id INTEGER PRIMARY KEY, ts REAL NOT NULL, annotator_id TEXT NOT NULL, cache_key TEXT NOT NULL,
  prompt_tokens INTEGER NOT NULL, completion_tokens INTEGER NOT NULL, cost REAL NOT NULL,
  latency_s REAL NOT NULL);
CREATE TABLE IF NOT EXISTS embeddings (
  encoder TEXT NOT NULL, text_hash TEXT NOT NULL, vector BLOB NOT NULL,
  PRIMARY KEY (encoder, text_hash));
CREATE TABLE IF NOT EXISTS loop_rounds (
  run TEXT NOT NULL, round INTEGER NOT NULL, labeled TEXT NOT NULL, result TEXT NOT NULL,
  PRIMARY KEY (run, round));
CREATE TABLE IF NOT EXISTS kv (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


_dumps = dumps
# The fields of an Annotation that are stored, in its own field order (``add_annotation_values``).
ANNOTATION_FIELDS = ("record_id", "annotator_id", "template_hash", "label", "distribution", "error", "call_keys",
                     "prompt_tokens", "completion_tokens", "cost", "latency_s", "repeat")
_annotation_values = operator.attrgetter(*ANNOTATION_FIELDS)


class Store:
    _json_each = True  # this SQLite has the JSON functions (cache_get_many); cleared if not

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(self.path, timeout=30, isolation_level=None, check_same_thread=False)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.executescript(SCHEMA)

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> "Store":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # -- records ---------------------------------------------------------------------------
    def put_records(self, records: Sequence[Record]) -> None:
        with self.db:
            self.db.execute("BEGIN")
            self.db.executemany(
                "INSERT INTO records (id, position, fields, gold, domain, split) VALUES (?,?,?,?,?,?) "
                "ON CONFLICT(id) DO UPDATE SET position=excluded.position, fields=excluded.fields, "
                "gold=excluded.gold, domain=excluded.domain, split=excluded.split",
                [(r.id, i, _dumps(dict(r.fields)), _dumps(r.gold), r.domain, r.split)
                 for i, r in enumerate(records)])

    def records(self) -> list[Record]:
        rows = self.db.execute("SELECT id, fields, gold, domain, split FROM records ORDER BY position")
        return [Record(id=i, fields=loads(f), gold=_gold(loads(g)), domain=d, split=s)
                for i, f, g, d, s in rows]

    # -- annotations -----------------------------------------------------------------------
    def annotated_ids(self, annotator_id: str, template_hash: str, repeat: int = 0) -> set[str]:
        rows = self.db.execute("SELECT record_id FROM annotations WHERE annotator_id=? AND template_hash=? "
                               "AND repeat=?", (annotator_id, template_hash, repeat))
        return {r[0] for r in rows}

    def add_annotations(self, anns: Iterable[Annotation]) -> int:
        """Insert; an annotation that already exists for the same key is kept, not duplicated."""
        return self.add_annotation_values(map(_annotation_values, anns))

    def add_annotation_values(self, values: Iterable[tuple[Any, ...]]) -> int:
        """``add_annotations`` for annotations given as value tuples in ``ANNOTATION_FIELDS``
        order (``Annotation(*values)`` would build the same one): the engine's form, which
        saves building an object per item when a cached run replays. One transaction."""
        now = time.time()
        rows = [(rid, aid, th, rep, str(dumpb(label), "utf-8"), str(dumpb(dist), "utf-8"), error, ",".join(keys),
                 pt, ct, cost, latency, now)  # str(dumpb(x), "utf-8") is dumps(x), inlined: per item
                for rid, aid, th, label, dist, error, keys, pt, ct, cost, latency, rep in values]
        with self.db:
            self.db.execute("BEGIN")
            cur = self.db.executemany(
                "INSERT OR IGNORE INTO annotations (record_id, annotator_id, template_hash, repeat, label, "
                "distribution, error, call_keys, prompt_tokens, completion_tokens, cost, latency_s, "
                "created_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)", rows)
        return cur.rowcount

    def annotations(self, annotator_id: str | None = None, template_hash: str | None = None,
                    repeat: int | None = 0) -> list[Annotation]:
        sql = ("SELECT record_id, annotator_id, template_hash, label, distribution, error, call_keys, "
               "prompt_tokens, completion_tokens, cost, latency_s, repeat FROM annotations WHERE 1=1")
        args: list[Any] = []
        for col, val in (("annotator_id", annotator_id), ("template_hash", template_hash), ("repeat", repeat)):
            if val is not None:
                sql += f" AND {col}=?"
                args.append(val)
        out = []
        for r in self.db.execute(sql + " ORDER BY id", args):
            out.append(Annotation(record_id=r[0], annotator_id=r[1], template_hash=r[2],
                                  label=_gold(loads(r[3])), distribution=loads(r[4]), error=r[5],
                                  call_keys=tuple(k for k in r[6].split(",") if k), prompt_tokens=r[7],
                                  completion_tokens=r[8], cost=r[9], latency_s=r[10], repeat=r[11]))
        return out

    def calls(self, annotation: Annotation) -> list[dict[str, Any]]:
        """The raw prompts and responses behind an annotation, in query order, for auditing."""
        out = []
        for key in annotation.call_keys:
            row = self.db.execute("SELECT query, response, raw FROM cache WHERE key=?", (key,)).fetchone()
            out.append({"key": key, "query": loads(row[0]) if row else None,
                        "response": loads(row[1]) if row else None,
                        "raw": loads(row[2]) if row and row[2] else None})
        return out

    # -- response cache + ledger -------------------------------------------------------------
    def cache_get_many(self, keys: Sequence[str]) -> dict[str, Response]:
        """Parsed answers by key (without the raw payload, which stays in the database).

        The keys go in as one JSON array joined to the cache's key index: one statement per
        call, and no temporary index of the keys as an ``IN (...)`` list builds (a replay looks
        up every key of a run this way). SQLite builds without the JSON functions use IN."""
        found: dict[str, Response] = {}
        uniq = list(dict.fromkeys(keys))
        if not uniq:
            return found
        from_json = Response.from_json
        if self._json_each:
            try:
                rows = self.db.execute("SELECT c.key, c.response FROM json_each(?) j JOIN cache c ON c.key = j.value",
                                       (_dumps(uniq),))
            except sqlite3.OperationalError as e:
                if "json_each" not in str(e):
                    raise
                self._json_each = False  # a SQLite built without the JSON functions
            else:
                for k, resp in rows:
                    found[k] = from_json(loads(resp))
                return found
        for i in range(0, len(uniq), 900):
            chunk = uniq[i:i + 900]
            q = f"SELECT key, response FROM cache WHERE key IN ({','.join('?' * len(chunk))})"
            for k, resp in self.db.execute(q, chunk):
                found[k] = from_json(loads(resp))
        return found

    def record_call(self, key: str, annotator: dict[str, Any], query: dict[str, Any], response: Response,
                    annotator_id: str, cost: float) -> None:
        """Cache a paid-for answer and write it to the ledger, in one transaction."""
        now = time.time()
        with self.db:
            self.db.execute("BEGIN")
            self.db.execute("INSERT OR IGNORE INTO cache (key, annotator, query, response, raw, created_at) "
                            "VALUES (?,?,?,?,?,?)", (key, _dumps(annotator), _dumps(query),
                                                     _dumps(response.as_json(raw=False)), _dumps(response.raw), now))
            self.db.execute("INSERT INTO ledger (ts, annotator_id, cache_key, prompt_tokens, completion_tokens, "
                            "cost, latency_s) VALUES (?,?,?,?,?,?,?)",
                            (now, annotator_id, key, response.usage.prompt_tokens,
                             response.usage.completion_tokens, cost, response.latency_s))

    def spent(self) -> dict[str, float]:
        calls, tokens, money, secs = self.db.execute(
            "SELECT COUNT(*), COALESCE(SUM(prompt_tokens+completion_tokens),0), COALESCE(SUM(cost),0), "
            "COALESCE(SUM(latency_s),0) FROM ledger").fetchone()
        return {"calls": calls, "tokens": tokens, "money": money, "seconds": secs}

    def ledger_rows(self) -> Iterator[tuple[Any, ...]]:
        return self.db.execute("SELECT ts, annotator_id, cache_key, prompt_tokens, completion_tokens, cost, "
                               "latency_s FROM ledger ORDER BY id")

    # -- active-learning rounds ---------------------------------------------------------------
    def put_round(self, run: str, round_no: int, labeled: dict[str, Any], result: dict[str, Any]) -> None:
        self.db.execute("INSERT OR REPLACE INTO loop_rounds (run, round, labeled, result) VALUES (?,?,?,?)",
                        (run, round_no, _dumps(labeled), _dumps(result)))

    def rounds(self, run: str | None = None) -> list[tuple[str, int, dict[str, Any], dict[str, Any]]]:
        sql, args = "SELECT run, round, labeled, result FROM loop_rounds", ()
        if run is not None:
            sql, args = sql + " WHERE run=?", (run,)
        return [(r, n, loads(l), loads(res)) for r, n, l, res in self.db.execute(sql + " ORDER BY run, round", args)]

    # -- small key/value facts (e.g. calibration priors) ----------------------------------
    def get_kv(self, key: str) -> Any:
        row = self.db.execute("SELECT value FROM kv WHERE key=?", (key,)).fetchone()
        return loads(row[0]) if row else None

    def set_kv(self, key: str, value: Any) -> None:
        self.db.execute("INSERT INTO kv (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value=excluded.value",
                        (key, _dumps(value)))


def _gold(x: Any) -> Any:
    """JSON has no tuples; multi-label sets come back as lists and are made tuples again."""
    return tuple(x) if isinstance(x, list) else x
