"""The project database: SQLite (WAL, the default) or PostgreSQL (``store.url``). One
connection per Store; writes commit per call so that a ``kill -9`` loses at most the call in
flight, never one already paid for.

``Store`` is the store protocol: every statement lives here, written in the SQL both databases
speak (``ON CONFLICT``, ``RETURNING``); ``postgres.PgConnection`` gives PostgreSQL the
connection API of ``sqlite3`` and its types. Nothing outside ``store/`` writes SQL.

The budget's state lives here too (settled spend in ``spend_totals``, calls in flight in
``budget_reservations``), so two processes on one project cannot together pass one budget.
On SQLite, ``lock`` keeps a second ``annotate`` or ``loop`` out while one runs. On PostgreSQL
(or for a worker under a lock another process holds) the store is *shared*: many processes
work at once, and each paid question is *claimed* first (``claim``), so it is paid once; a
claim is a lease its holder renews (``renew``), which another worker takes over once it has
expired. A reservation left by a worker that died is never given back: its call may have been
paid, so it counts as spent."""
from __future__ import annotations

import operator
import os
import socket
import sqlite3
import threading
import time
import uuid
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterable, Iterator, Sequence

from ..errors import LabelwiseError
from ..jsonutil import dumpb, dumps, loads
from ..types import Annotation, Record, Response
from .lock import ProjectLock
from .postgres import PgConnection, is_postgres_url, redact

_ANNOTATIONS_TABLE = """CREATE TABLE annotations (
  id INTEGER PRIMARY KEY, record_id TEXT NOT NULL, annotator_id TEXT NOT NULL,
  template_hash TEXT NOT NULL, repeat INTEGER NOT NULL DEFAULT 0,
  label TEXT, distribution TEXT, error TEXT, call_keys TEXT NOT NULL,
  prompt_tokens INTEGER NOT NULL, completion_tokens INTEGER NOT NULL, cost REAL NOT NULL,
  latency_s REAL NOT NULL, created_at REAL NOT NULL, item_key TEXT UNIQUE)"""

SCHEMA = """
CREATE TABLE IF NOT EXISTS records (
  id TEXT PRIMARY KEY, position INTEGER NOT NULL, fields TEXT NOT NULL, gold TEXT,
  domain TEXT, split TEXT);
""" + _ANNOTATIONS_TABLE.replace("CREATE TABLE", "CREATE TABLE IF NOT EXISTS") + """;
CREATE INDEX IF NOT EXISTS annotations_by_record ON annotations (record_id, annotator_id, template_hash, repeat);
CREATE TABLE IF NOT EXISTS cache (
  key TEXT PRIMARY KEY, annotator TEXT NOT NULL, query TEXT NOT NULL, response TEXT NOT NULL,
  raw TEXT, created_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS ledger (
  id INTEGER PRIMARY KEY, ts REAL NOT NULL, annotator_id TEXT NOT NULL, cache_key TEXT NOT NULL,
  prompt_tokens INTEGER NOT NULL, completion_tokens INTEGER NOT NULL, cost REAL NOT NULL,
  latency_s REAL NOT NULL, requests INTEGER NOT NULL DEFAULT 1);
CREATE TABLE IF NOT EXISTS failed_calls (
  key TEXT NOT NULL, ts REAL NOT NULL, annotator_id TEXT NOT NULL, query TEXT NOT NULL, error TEXT NOT NULL,
  raw TEXT);
CREATE TABLE IF NOT EXISTS spend_totals (
  id INTEGER PRIMARY KEY CHECK (id = 1), money REAL NOT NULL, requests INTEGER NOT NULL,
  items INTEGER NOT NULL, tokens INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS budget_reservations (
  id INTEGER PRIMARY KEY, money REAL NOT NULL, requests INTEGER NOT NULL, items INTEGER NOT NULL,
  tokens INTEGER NOT NULL, created_at REAL NOT NULL, owner TEXT, expires_at REAL);
CREATE TABLE IF NOT EXISTS claims (
  key TEXT PRIMARY KEY, owner TEXT NOT NULL, expires_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS embeddings (
  encoder TEXT NOT NULL, text_hash TEXT NOT NULL, vector BLOB NOT NULL,
  PRIMARY KEY (encoder, text_hash));
CREATE TABLE IF NOT EXISTS loop_rounds (
  run TEXT NOT NULL, round INTEGER NOT NULL, labeled TEXT NOT NULL, result TEXT NOT NULL,
  PRIMARY KEY (run, round));
CREATE TABLE IF NOT EXISTS kv (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS routed (
  run TEXT NOT NULL, record_id TEXT NOT NULL, stage TEXT NOT NULL, label TEXT, confidence REAL,
  certified INTEGER NOT NULL, created_at REAL NOT NULL, PRIMARY KEY (run, record_id));
CREATE TABLE IF NOT EXISTS review_queue (
  record_id TEXT PRIMARY KEY, run TEXT NOT NULL, reason TEXT NOT NULL, created_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS reviewers (
  name TEXT PRIMARY KEY, token_hash TEXT NOT NULL UNIQUE, created_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS review_sessions (
  sid_hash TEXT PRIMARY KEY, reviewer TEXT NOT NULL, csrf TEXT NOT NULL, created_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS review_versions (
  record_id TEXT NOT NULL, reviewer TEXT NOT NULL, version INTEGER NOT NULL, answered_at REAL,
  PRIMARY KEY (record_id, reviewer));
"""


_dumps = dumps
# The fields of an Annotation that are stored, in its own field order (``add_annotation_values``).
ANNOTATION_FIELDS = ("record_id", "annotator_id", "template_hash", "label", "distribution", "error", "call_keys",
                     "prompt_tokens", "completion_tokens", "cost", "latency_s", "repeat", "item_key")
BUDGET_KINDS = ("money", "requests", "items", "tokens")
_annotation_values = operator.attrgetter(*ANNOTATION_FIELDS)


CLAIM_LEASE_S = 60.0  # a claim or reservation not renewed for this long belongs to a dead worker


class Store:
    _json_each = True  # this SQLite has the JSON functions (cache_get_many); cleared if not

    def __init__(self, location: str | Path, worker: bool = False) -> None:
        """``location``: a SQLite file (``:memory:`` for a throw-away one) or a
        ``postgresql://`` URL. ``worker=True``: this process works under the project lock
        another process (a runner's driver) holds, so it claims what it pays for."""
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"  # this Store, as a worker
        self.lease_s = CLAIM_LEASE_S
        if is_postgres_url(location):
            self.path, self.url = None, str(location)
            self.db: Any = PgConnection(self.url)
            try:
                self.db.create_schema(SCHEMA)
                self._init_spend_totals()
            except self.db._errors as e:
                self.db.close()
                raise LabelwiseError(f"store.url {redact(self.url)}: not a usable labelwise database ({e})") from None
            self.shared = True  # many workers at once: claims, not a lock
            self._lock = ProjectLock(None)
        else:
            self.url = None
            self.path = Path(location)
            if self.path.is_dir():
                raise LabelwiseError(f"{self.path}: store.path is a directory; name a database file")
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.db = sqlite3.connect(self.path, timeout=30, isolation_level=None, check_same_thread=False)
            try:
                _retry_while_locked(self._open_sqlite)
            except sqlite3.DatabaseError as e:
                self.db.close()
                raise LabelwiseError(f"{self.path}: not a usable labelwise database ({e}); restore it from a backup, "
                                     "or move it away to start a new one") from None
            self.shared = worker
            self._lock = ProjectLock(None if str(location) == ":memory:" else Path(f"{self.path}.lock"))
        self.worker = worker
        self._budget_mutex = threading.Lock()  # one budget transaction at a time on this connection

    def _open_sqlite(self) -> None:
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        _migrate(self.db)
        self.db.executescript(SCHEMA)
        self._init_spend_totals()

    @property
    def where(self) -> str:
        """The database, for messages (a URL without its password)."""
        return redact(self.url) if self.url else str(self.path)

    def close(self) -> None:
        self.db.close()

    # -- one process at a time (SQLite), or many cooperating (shared) ------------------------
    @contextmanager
    def lock(self, purpose: str, wait: bool = False) -> Iterator[None]:
        """Hold the project for ``purpose`` (re-entrant in one process). Another process gets
        ``ProjectLocked`` at once, or waits with ``wait=True``. Calls that a killed holder left
        reserved are given back when the lock is taken: nobody else could have made them.

        A shared store takes no lock: its workers claim each paid question instead. A worker
        checks that the lock it works under is really held (by its driver)."""
        if self.worker and self.url is None:
            if not self._lock.is_held_elsewhere():
                raise LabelwiseError(f"{self.where}: a worker runs under its driver's project lock, and nobody "
                                     "holds it (the driver stopped?)")
            yield
            return
        if self.shared:
            yield
            return
        with self._lock.held(purpose, wait):
            if self._lock.depth == 1:
                self.db.execute("DELETE FROM budget_reservations")
            yield

    # -- claims: each paid question paid once, across workers ------------------------------
    def claim(self, key: str) -> str:
        """Try to become the one worker that pays for ``key``: ``"won"`` (pay, then
        ``record_call`` or ``release_claim``), ``"answered"`` (in the cache now: read it), or
        ``"held"`` (another live worker is asking it: wait and try again). A claim whose lease
        expired (its worker died) is taken over."""
        now = time.time()
        cur = self.db.execute("INSERT INTO claims (key, owner, expires_at) VALUES (?,?,?) ON CONFLICT DO NOTHING",
                              (key, self.owner, now + self.lease_s))
        if cur.rowcount != 1:
            cur = self.db.execute("UPDATE claims SET owner=?, expires_at=? WHERE key=? AND expires_at < ?",
                                  (self.owner, now + self.lease_s, key, now))
            if cur.rowcount != 1:
                return "answered" if self._cached(key) else "held"
        # won; the answer may have been committed (with its claim deleted) just before: look
        if self._cached(key):
            self.release_claim(key)
            return "answered"
        return "won"

    def _cached(self, key: str) -> bool:
        return self.db.execute("SELECT 1 FROM cache WHERE key=?", (key,)).fetchone() is not None

    def release_claim(self, key: str) -> None:
        """Give up a claim without paying (the call failed before any answer)."""
        self.db.execute("DELETE FROM claims WHERE key=? AND owner=?", (key, self.owner))

    def renew(self) -> None:
        """Extend this worker's claims and budget reservations by one lease (its heartbeat)."""
        until = time.time() + self.lease_s
        with self.db:
            self.db.execute("BEGIN")
            self.db.execute("UPDATE claims SET expires_at=? WHERE owner=?", (until, self.owner))
            self.db.execute("UPDATE budget_reservations SET expires_at=? WHERE owner=?", (until, self.owner))

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
        """Records with any annotation by this annotator and template (of any config or
        content); ``annotations_by_item_key`` finds the ones that are current."""
        rows = self.db.execute("SELECT record_id FROM annotations WHERE annotator_id=? AND template_hash=? "
                               "AND repeat=?", (annotator_id, template_hash, repeat))
        return {r[0] for r in rows}

    def annotations_by_item_key(self, item_keys: Sequence[str]) -> dict[str, Annotation]:
        """The annotations stored under these item keys (see ``engine.item_key``)."""
        found: dict[str, Annotation] = {}
        for r in self._rows_where_in(f"SELECT {_ANNOTATION_COLUMNS} FROM annotations WHERE", "item_key",
                                     list(dict.fromkeys(item_keys))):
            a = _annotation(r)
            found[a.item_key] = a
        return found

    def _rows_where_in(self, select: str, column: str, keys: Sequence[Any], args: Sequence[Any] = ()) -> Iterator[Any]:
        """The rows of ``select`` (which ends in ``WHERE`` or ``AND``; ``args`` are its own
        parameters) whose ``column`` is one of ``keys``: one array parameter on PostgreSQL,
        ``IN`` lists of 900 on SQLite (under its parameter limit)."""
        if self.url is not None:
            yield from self.db.execute(f"{select} {column} = ANY(?)", (*args, list(keys)))
            return
        for i in range(0, len(keys), 900):
            chunk = keys[i:i + 900]
            yield from self.db.execute(f"{select} {column} IN ({','.join('?' * len(chunk))})", (*args, *chunk))

    def add_annotations(self, anns: Iterable[Annotation]) -> int:
        """Insert; an annotation that already exists for the same key is kept, not duplicated."""
        return self.add_annotation_values(map(_annotation_values, anns))

    def add_annotation_values(self, values: Iterable[tuple[Any, ...]], settle_items: Sequence[int] = ()) -> int:
        """``add_annotations`` for annotations given as value tuples in ``ANNOTATION_FIELDS``
        order (``Annotation(*values)`` would build the same one): the engine's form, which
        saves building an object per item when a cached run replays. One transaction, which
        also settles the item reservations ``settle_items`` (one bought item each)."""
        now = time.time()
        rows = [(rid, aid, th, rep, str(dumpb(label), "utf-8"), str(dumpb(dist), "utf-8"), error, ",".join(keys),
                 pt, ct, cost, latency, now, ik)  # str(dumpb(x), "utf-8") is dumps(x), inlined: per item
                for rid, aid, th, label, dist, error, keys, pt, ct, cost, latency, rep, ik in values]
        with self.db:
            self.db.execute("BEGIN")
            cur = self.db.executemany(
                "INSERT INTO annotations (record_id, annotator_id, template_hash, repeat, label, "
                "distribution, error, call_keys, prompt_tokens, completion_tokens, cost, latency_s, "
                "created_at, item_key) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?) ON CONFLICT DO NOTHING", rows)
            n = cur.rowcount
            if settle_items:
                self._settle(settle_items, {"items": len(settle_items)})
        return n

    def annotations(self, annotator_id: str | None = None, template_hash: str | None = None,
                    repeat: int | None = 0) -> list[Annotation]:
        """Every stored annotation that matches, oldest first: of every config and record
        content ever annotated (``annotations_by_item_key`` finds the current ones)."""
        sql = f"SELECT {_ANNOTATION_COLUMNS} FROM annotations WHERE 1=1"
        args: list[Any] = []
        for col, val in (("annotator_id", annotator_id), ("template_hash", template_hash), ("repeat", repeat)):
            if val is not None:
                sql += f" AND {col}=?"
                args.append(val)
        return [_annotation(r) for r in self.db.execute(sql + " ORDER BY id", args)]

    def calls(self, annotation: Annotation) -> list[dict[str, Any]]:
        """The raw prompts and responses behind an annotation, in query order, for auditing
        (a call whose answer could not be read has its error and raw body instead)."""
        out = []
        for key in annotation.call_keys:
            row = self.db.execute("SELECT query, response, raw FROM cache WHERE key=?", (key,)).fetchone()
            if row is None:
                failed = self.db.execute("SELECT query, error, raw FROM failed_calls WHERE key=? ORDER BY ts DESC",
                                         (key,)).fetchone()
                if failed is not None:
                    out.append({"key": key, "query": loads(failed[0]), "response": None, "error": failed[1],
                                "raw": loads(failed[2]) if failed[2] else None})
                    continue
            out.append({"key": key, "query": loads(row[0]) if row else None,
                        "response": loads(row[1]) if row else None,
                        "raw": loads(row[2]) if row and row[2] else None})
        return out

    # -- response cache + ledger -------------------------------------------------------------
    def cache_get_many(self, keys: Sequence[str]) -> dict[str, Response]:
        """Parsed answers by key (without the raw payload, which stays in the database).

        The keys go in as one JSON array joined to the cache's key index: one statement per
        call, and no temporary index of the keys as an ``IN (...)`` list builds (a replay looks
        up every key of a run this way). SQLite builds without the JSON functions use IN lists,
        PostgreSQL one array parameter (``_rows_where_in``)."""
        found: dict[str, Response] = {}
        uniq = list(dict.fromkeys(keys))
        if not uniq:
            return found
        from_json = Response.from_json
        if self._json_each and self.url is None:
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
        for k, resp in self._rows_where_in("SELECT key, response FROM cache WHERE", "key", uniq):
            found[k] = from_json(loads(resp))
        return found

    def record_call(self, key: str, annotator: dict[str, Any], query: dict[str, Any], response: Response,
                    annotator_id: str, cost: float, reservation: int | None = None) -> None:
        """Cache a paid-for answer and write it to the ledger, in one transaction that also
        settles its budget reservation to what it really cost."""
        now = time.time()
        u = response.usage
        with self.db:
            self.db.execute("BEGIN")
            self.db.execute("INSERT INTO cache (key, annotator, query, response, raw, created_at) "
                            "VALUES (?,?,?,?,?,?) ON CONFLICT DO NOTHING",
                            (key, _dumps(annotator), _dumps(query), _dumps(response.as_json(raw=False)),
                             _dumps(response.raw), now))
            if self.shared:
                self.db.execute("DELETE FROM claims WHERE key=?", (key,))
            self._ledger(now, annotator_id, key, u.prompt_tokens, u.completion_tokens, cost, response.latency_s,
                         response.requests, reservation)

    def record_failed_call(self, key: str, query: dict[str, Any], annotator_id: str, error: str, raw: Any,
                           prompt_tokens: int, completion_tokens: int, cost: float, requests: int,
                           reservation: int | None = None) -> None:
        """A call that was answered (so billed) but could not be read: its error and raw body
        are kept, and the ledger counts it at the bound it reserved (its real usage is unknown)."""
        now = time.time()
        with self.db:
            self.db.execute("BEGIN")
            self.db.execute("INSERT INTO failed_calls (key, ts, annotator_id, query, error, raw) VALUES (?,?,?,?,?,?)",
                            (key, now, annotator_id, _dumps(query), error, _dumps(raw)))
            if self.shared:
                self.db.execute("DELETE FROM claims WHERE key=? AND owner=?", (key, self.owner))
            self._ledger(now, annotator_id, key, prompt_tokens, completion_tokens, cost, 0.0, requests, reservation)

    def _ledger(self, now: float, annotator_id: str, key: str, prompt_tokens: int, completion_tokens: int,
                cost: float, latency_s: float, requests: int, reservation: int | None) -> None:
        self.db.execute("INSERT INTO ledger (ts, annotator_id, cache_key, prompt_tokens, completion_tokens, "
                        "cost, latency_s, requests) VALUES (?,?,?,?,?,?,?,?)",
                        (now, annotator_id, key, prompt_tokens, completion_tokens, cost, latency_s, requests))
        self._settle([reservation] if reservation is not None else (),
                     {"money": cost, "requests": requests, "tokens": prompt_tokens + completion_tokens})

    def spent(self) -> dict[str, float]:
        """Settled spend: what the ledger holds (calls = answers, requests = paid HTTP requests)."""
        calls, secs = self.db.execute("SELECT COUNT(*), COALESCE(SUM(latency_s),0) FROM ledger").fetchone()
        money, requests, items, tokens = self.db.execute(
            "SELECT money, requests, items, tokens FROM spend_totals").fetchone()
        return {"calls": calls, "requests": requests, "items": items, "tokens": tokens, "money": money,
                "seconds": secs}

    # -- the budget's state ------------------------------------------------------------------
    def budget_reserve(self, limits: dict[str, float | None], want: dict[str, float],
                       extend: int | None = None) -> tuple[int | None, dict[str, Any]]:
        """Reserve ``want`` (or add it to the held reservation ``extend``) if settled spend plus
        what calls in flight hold plus ``want`` stays within every limit, atomically across
        processes. Returns (reservation id, {}) or (None, {kind, spent, held, limit, want}) for
        the first limit it would pass."""
        values = tuple(want.get(k, 0) for k in BUDGET_KINDS)
        with self._budget_mutex, self.db:
            self.db.execute("BEGIN IMMEDIATE")
            spent, held = self.budget_state()
            for k, w in zip(BUDGET_KINDS, values):
                lim = limits.get(k)
                if lim is not None and w and spent[k] + held[k] + w > lim + 1e-9:
                    return None, {"kind": k, "spent": spent[k], "held": held[k], "limit": lim, "want": w}
            if extend is not None:
                self.db.execute("UPDATE budget_reservations SET money=money+?, requests=requests+?, items=items+?, "
                                "tokens=tokens+? WHERE id=?", (*values, extend))
                return extend, {}
            now = time.time()
            cur = self.db.execute("INSERT INTO budget_reservations (money, requests, items, tokens, created_at, "
                                  "owner, expires_at) VALUES (?,?,?,?,?,?,?) RETURNING id",
                                  (*values, now, self.owner, now + self.lease_s))
            return cur.fetchone()[0], {}

    def budget_release(self, reservation: int) -> None:
        with self._budget_mutex:
            self.db.execute("DELETE FROM budget_reservations WHERE id=?", (reservation,))

    def budget_state(self) -> tuple[dict[str, float], dict[str, float]]:
        """(settled spend, held by calls in flight) per kind, read in one statement (one
        snapshot: a call settling between two reads cannot be counted in neither). Calls a
        dead worker left reserved are held for good: they may have been paid."""
        row = self.db.execute(
            "SELECT s.money, s.requests, s.items, s.tokens, r.money, r.requests, r.items, r.tokens FROM spend_totals s, "
            "(SELECT COALESCE(SUM(money),0) AS money, COALESCE(SUM(requests),0) AS requests, "
            "COALESCE(SUM(items),0) AS items, COALESCE(SUM(tokens),0) AS tokens FROM budget_reservations) r").fetchone()
        return dict(zip(BUDGET_KINDS, row[:4])), dict(zip(BUDGET_KINDS, row[4:]))

    def _settle(self, reservations: Iterable[int], add: dict[str, float]) -> None:
        """Inside a transaction: drop the reservations, add the real spend to the totals."""
        self.db.executemany("DELETE FROM budget_reservations WHERE id=?", [(r,) for r in reservations])
        self.db.execute("UPDATE spend_totals SET money=money+?, requests=requests+?, items=items+?, tokens=tokens+?",
                        tuple(add.get(k, 0) for k in BUDGET_KINDS))

    def _init_spend_totals(self) -> None:
        """A database from before the totals existed: they start from its ledger."""
        with self.db:
            self.db.execute("BEGIN IMMEDIATE")
            if self.db.execute("SELECT 1 FROM spend_totals").fetchone() is None:
                money, requests, tokens = self.db.execute(
                    "SELECT COALESCE(SUM(cost),0), COALESCE(SUM(requests),0), "
                    "COALESCE(SUM(prompt_tokens+completion_tokens),0) FROM ledger").fetchone()
                items = self.db.execute("SELECT COUNT(*) FROM annotations WHERE call_keys != ''").fetchone()[0]
                self.db.execute("INSERT INTO spend_totals (id, money, requests, items, tokens) VALUES (1,?,?,?,?)",
                                (money, requests, items, tokens))

    def spent_by_annotator(self) -> dict[str, dict[str, float]]:
        """annotator id -> {calls, money, seconds} from the ledger (every paid answer, all runs)."""
        rows = self.db.execute("SELECT annotator_id, COUNT(*), COALESCE(SUM(cost),0), COALESCE(SUM(latency_s),0) "
                               "FROM ledger GROUP BY annotator_id")
        return {aid: {"calls": n, "money": money, "seconds": secs} for aid, n, money, secs in rows}

    def ledger_rows(self) -> Iterator[tuple[Any, ...]]:
        return self.db.execute("SELECT ts, annotator_id, cache_key, prompt_tokens, completion_tokens, cost, "
                               "latency_s FROM ledger ORDER BY id")

    # -- active-learning rounds ---------------------------------------------------------------
    def put_round(self, run: str, round_no: int, labeled: dict[str, Any], result: dict[str, Any]) -> None:
        self.db.execute("INSERT INTO loop_rounds (run, round, labeled, result) VALUES (?,?,?,?) ON CONFLICT (run, round) "
                        "DO UPDATE SET labeled=excluded.labeled, result=excluded.result",
                        (run, round_no, _dumps(labeled), _dumps(result)))

    def rounds(self, run: str | None = None) -> list[tuple[str, int, dict[str, Any], dict[str, Any]]]:
        sql, args = "SELECT run, round, labeled, result FROM loop_rounds", ()
        if run is not None:
            sql, args = sql + " WHERE run=?", (run,)
        return [(r, n, loads(l), loads(res)) for r, n, l, res in self.db.execute(sql + " ORDER BY run, round", args)]

    # -- routing: who labeled each item ------------------------------------------------------
    def put_routed(self, run: str, rows: Iterable[tuple[str, str, Any, float | None, bool]]) -> None:
        """(record_id, stage, label, confidence, certified) per item, in one transaction."""
        now = time.time()
        with self.db:
            self.db.execute("BEGIN")
            self.db.executemany("INSERT INTO routed (run, record_id, stage, label, confidence, certified, created_at) "
                                "VALUES (?,?,?,?,?,?,?) ON CONFLICT (run, record_id) DO UPDATE SET stage=excluded.stage, "
                                "label=excluded.label, confidence=excluded.confidence, certified=excluded.certified, "
                                "created_at=excluded.created_at",
                                [(run, rid, st, _dumps(lab), conf, int(cert), now) for rid, st, lab, conf, cert in rows])

    def routed(self, run: str) -> dict[str, tuple[str, Any, float | None, bool]]:
        """record_id -> (stage, label, confidence, certified) of one routing run."""
        rows = self.db.execute("SELECT record_id, stage, label, confidence, certified FROM routed WHERE run=?", (run,))
        return {rid: (st, _gold(loads(lab)), conf, bool(cert)) for rid, st, lab, conf, cert in rows}

    def queue_for_review(self, run: str, record_ids: Sequence[str], reason: str) -> int:
        """Put items in the human review queue (an item already queued stays as it was)."""
        now = time.time()
        with self.db:
            self.db.execute("BEGIN")
            cur = self.db.executemany("INSERT INTO review_queue (record_id, run, reason, created_at) "
                                      "VALUES (?,?,?,?) ON CONFLICT DO NOTHING", [(rid, run, reason, now) for rid in record_ids])
        return cur.rowcount

    def review_queue(self) -> list[tuple[str, str, str]]:
        return [tuple(r) for r in self.db.execute("SELECT record_id, run, reason FROM review_queue ORDER BY created_at, "
                                                  "record_id")]

    def flag_for_review(self, run: str, record_id: str, reason: str) -> None:
        """Queue an item for (another) look, replacing the reason it had."""
        self.db.execute("INSERT INTO review_queue (record_id, run, reason, created_at) VALUES (?,?,?,?) "
                        "ON CONFLICT(record_id) DO UPDATE SET run=excluded.run, reason=excluded.reason",
                        (record_id, run, reason, time.time()))

    # -- people: reviewers, their sessions, their answers ------------------------------------
    def add_reviewer(self, name: str, token_hash: str) -> None:
        """A reviewer and the SHA-256 of their login token (a new token replaces the old)."""
        self.db.execute("INSERT INTO reviewers (name, token_hash, created_at) VALUES (?,?,?) "
                        "ON CONFLICT(name) DO UPDATE SET token_hash=excluded.token_hash", (name, token_hash, time.time()))
        self.db.execute("DELETE FROM review_sessions WHERE reviewer=?", (name,))

    def reviewer_by_token(self, token_hash: str) -> str | None:
        row = self.db.execute("SELECT name FROM reviewers WHERE token_hash=?", (token_hash,)).fetchone()
        return row[0] if row else None

    def reviewers(self) -> list[str]:
        return [r[0] for r in self.db.execute("SELECT name FROM reviewers ORDER BY name")]

    def put_session(self, sid_hash: str, reviewer: str, csrf: str) -> None:
        self.db.execute("INSERT INTO review_sessions (sid_hash, reviewer, csrf, created_at) VALUES (?,?,?,?)",
                        (sid_hash, reviewer, csrf, time.time()))

    def session(self, sid_hash: str) -> tuple[str, str] | None:
        """(reviewer, csrf token) of a live session."""
        row = self.db.execute("SELECT reviewer, csrf FROM review_sessions WHERE sid_hash=?", (sid_hash,)).fetchone()
        return (row[0], row[1]) if row else None

    def drop_session(self, sid_hash: str) -> None:
        self.db.execute("DELETE FROM review_sessions WHERE sid_hash=?", (sid_hash,))

    def answer_versions(self, reviewer: str) -> dict[str, int]:
        """record id -> version of this reviewer's answer (0: never answered; undone answers
        keep counting, so an old page cannot overwrite a newer answer)."""
        return dict(self.db.execute("SELECT record_id, version FROM review_versions WHERE reviewer=?", (reviewer,)))

    def put_human_answer(self, ann: Annotation, reviewer: str, seen_version: int | None) -> int:
        """Store a reviewer's answer (replacing their earlier answer to the item) in one
        transaction, if the item's answer is still at ``seen_version`` (None: skip the check);
        returns the new version, or -1 when the page was stale and nothing was written."""
        return self._human_write(ann.record_id, reviewer, seen_version, ann)

    def delete_human_answer(self, record_id: str, reviewer: str, annotator_id: str, seen_version: int | None) -> int:
        """Undo a reviewer's answer (same version rule as ``put_human_answer``)."""
        return self._human_write(record_id, reviewer, seen_version, None, annotator_id)

    def _human_write(self, record_id: str, reviewer: str, seen: int | None, ann: Annotation | None,
                     annotator_id: str | None = None) -> int:
        with self.db:
            self.db.execute("BEGIN IMMEDIATE")
            row = self.db.execute("SELECT version FROM review_versions WHERE record_id=? AND reviewer=?",
                                  (record_id, reviewer)).fetchone()
            have = row[0] if row else 0
            if seen is not None and seen != have:
                return -1
            aid = ann.annotator_id if ann is not None else annotator_id
            self.db.execute("DELETE FROM annotations WHERE record_id=? AND annotator_id=?", (record_id, aid))
            if ann is not None:
                self.db.execute(
                    "INSERT INTO annotations (record_id, annotator_id, template_hash, repeat, label, distribution, "
                    "error, call_keys, prompt_tokens, completion_tokens, cost, latency_s, created_at, item_key) "
                    "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                    (ann.record_id, ann.annotator_id, ann.template_hash, ann.repeat, _dumps(ann.label),
                     _dumps(ann.distribution), ann.error, "", 0, 0, ann.cost, ann.latency_s, time.time(), ann.item_key))
            self.db.execute("INSERT INTO review_versions (record_id, reviewer, version, answered_at) VALUES (?,?,?,?) "
                            "ON CONFLICT(record_id, reviewer) DO UPDATE SET version=excluded.version, "
                            "answered_at=excluded.answered_at",
                            (record_id, reviewer, have + 1, time.time() if ann is not None else None))
            return have + 1

    def last_human_answer(self, reviewer: str) -> str | None:
        """The record this reviewer answered last (and has not undone)."""
        row = self.db.execute("SELECT record_id FROM review_versions WHERE reviewer=? AND answered_at IS NOT NULL "
                              "ORDER BY answered_at DESC LIMIT 1", (reviewer,)).fetchone()
        return row[0] if row else None

    def human_annotations(self, template_hash: str) -> list[Annotation]:
        """Every person's answers (``human/NAME`` annotators) under one prompt template, oldest first."""
        return [_annotation(r) for r in self.db.execute(
            f"SELECT {_ANNOTATION_COLUMNS} FROM annotations WHERE annotator_id LIKE 'human/%' AND template_hash=? "
            "ORDER BY id", (template_hash,))]

    def human_answerers(self, template_hash: str) -> dict[str, set[str]]:
        """record id -> the reviewers (``human/NAME`` annotators) who answered it."""
        out: dict[str, set[str]] = {}
        for rid, aid in self.db.execute("SELECT record_id, annotator_id FROM annotations WHERE annotator_id LIKE "
                                        "'human/%' AND template_hash=?", (template_hash,)):
            out.setdefault(rid, set()).add(aid.split("/", 1)[1])
        return out

    # -- sentence embeddings, by encoder and the SHA-256 of their text ----------------------
    def embeddings(self, encoder: str, text_hashes: Sequence[str]) -> dict[str, bytes]:
        """text hash -> the stored vector's bytes, for those stored."""
        return dict(self._rows_where_in("SELECT text_hash, vector FROM embeddings WHERE encoder=? AND", "text_hash",
                                        list(dict.fromkeys(text_hashes)), (encoder,)))

    def put_embeddings(self, encoder: str, vectors: Iterable[tuple[str, bytes]]) -> None:
        with self.db:
            self.db.execute("BEGIN")
            self.db.executemany("INSERT INTO embeddings (encoder, text_hash, vector) VALUES (?,?,?) "
                                "ON CONFLICT DO NOTHING", [(encoder, h, v) for h, v in vectors])

    # -- small key/value facts (e.g. calibration priors) ----------------------------------
    def get_kv(self, key: str) -> Any:
        row = self.db.execute("SELECT value FROM kv WHERE key=?", (key,)).fetchone()
        return loads(row[0]) if row else None

    def set_kv(self, key: str, value: Any) -> None:
        self.db.execute("INSERT INTO kv (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value=excluded.value",
                        (key, _dumps(value)))


_ANNOTATION_COLUMNS = ("record_id, annotator_id, template_hash, label, distribution, error, call_keys, "
                       "prompt_tokens, completion_tokens, cost, latency_s, repeat, item_key")


def _annotation(r: Sequence[Any]) -> Annotation:
    return Annotation(record_id=r[0], annotator_id=r[1], template_hash=r[2], label=_gold(loads(r[3])),
                      distribution=loads(r[4]), error=r[5], call_keys=tuple(k for k in r[6].split(",") if k),
                      prompt_tokens=r[7], completion_tokens=r[8], cost=r[9], latency_s=r[10], repeat=r[11],
                      item_key=r[12])


def _migrate(db: sqlite3.Connection) -> None:
    """Bring a database written by an earlier version up to this schema, keeping every row:
    annotations are keyed by their item key now (one record may have several: one per config
    and content), and ledger rows count paid requests."""
    ann = db.execute("SELECT sql FROM sqlite_master WHERE type='table' AND name='annotations'").fetchone()
    if ann and "item_key" not in ann[0]:
        with db:
            db.execute("BEGIN IMMEDIATE")
            db.execute("ALTER TABLE annotations RENAME TO annotations_old")
            db.execute(_ANNOTATIONS_TABLE)
            db.execute("INSERT INTO annotations (id, record_id, annotator_id, template_hash, repeat, label, "
                       "distribution, error, call_keys, prompt_tokens, completion_tokens, cost, latency_s, "
                       "created_at) SELECT id, record_id, annotator_id, template_hash, repeat, label, distribution, "
                       "error, call_keys, prompt_tokens, completion_tokens, cost, latency_s, created_at "
                       "FROM annotations_old")
            db.execute("DROP TABLE annotations_old")
    led = db.execute("SELECT sql FROM sqlite_master WHERE type='table' AND name='ledger'").fetchone()
    if led and "requests" not in led[0]:
        db.execute("ALTER TABLE ledger ADD COLUMN requests INTEGER NOT NULL DEFAULT 1")
    res = db.execute("SELECT sql FROM sqlite_master WHERE type='table' AND name='budget_reservations'").fetchone()
    if res and "owner" not in res[0]:
        db.execute("ALTER TABLE budget_reservations ADD COLUMN owner TEXT")
        db.execute("ALTER TABLE budget_reservations ADD COLUMN expires_at REAL")


def _retry_while_locked(step: Any, seconds: float = 30.0) -> None:
    """Run ``step``, again while another connection holds the database: switching a new file to
    WAL fails at once with "database is locked" (no busy wait) when several processes (a
    runner's workers) open it together."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            return step()
        except sqlite3.OperationalError as e:
            if "locked" not in str(e) or time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def _gold(x: Any) -> Any:
    """JSON has no tuples; multi-label sets come back as lists and are made tuples again."""
    return tuple(x) if isinstance(x, list) else x
