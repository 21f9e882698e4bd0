"""The openai backend against real HTTP servers on 127.0.0.1.

A scripted fault server injects 429/5xx/hangs/broken bodies and records every request, so the
exact protocol (fields, headers) and the retry behaviour are checked on the wire. The last test
talks to a real ``llama_cpp.server`` with the tiny smollm2 model.
"""
from __future__ import annotations

import asyncio
import contextlib
import email.utils
import math
import sqlite3
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import AsyncIterator, Iterator

import pytest

from labelwise.annotators.base import make_annotator
from labelwise.annotators.openai import OpenAIAnnotator, choice_logprobs_from_top, retry_after_seconds
from labelwise.config import AnnotatorConfig, TaskConfig
from labelwise.cost import Budget
from labelwise.engine import AnnotationRun
from labelwise.errors import AnnotatorError, ConfigError, MalformedAnswer
from labelwise.store import Store
from labelwise.tasks import make_task
from labelwise.types import Message, Query, Record
from tests.servers import (FaultServer, Reply, Seen, hang, http_error, llama_cpp_server, malformed, plain,
                           rate_limited, scored, server_error)

KEY_ENV = "LABELWISE_TEST_OPENAI_KEY"
KEY = "sk-test-7f3c9a1e5b-never-store-me"
LABELS = {"positive": "the text is favourable", "negative": "the text is unfavourable"}
QUERY = Query((Message("system", "Classify the sentiment."), Message("user", "Text: lovely soup\nLabel:")),
              choices=("positive", "negative"), max_tokens=8)


# -- fixtures and helpers ----------------------------------------------------------------------------
@pytest.fixture
def fault() -> Iterator[FaultServer]:
    with FaultServer() as server:
        yield server


@pytest.fixture
def api_key(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv(KEY_ENV, KEY)
    return KEY


def config(url: str, **kw: object) -> AnnotatorConfig:
    base: dict[str, object] = dict(backend="openai", base_url=url, model="fault-model", api_key_env=KEY_ENV,
                                   max_retries=3, timeout_s=5.0, samples=5, temperature=0.7, concurrency=4)
    base.update(kw)
    return AnnotatorConfig(**base)


@contextlib.asynccontextmanager
async def opened(cfg: AnnotatorConfig) -> AsyncIterator[OpenAIAnnotator]:
    ann = make_annotator(cfg)
    assert isinstance(ann, OpenAIAnnotator)
    try:
        yield ann
    finally:
        await ann.aclose()


def sentiment_task():  # type: ignore[no-untyped-def]
    return make_task(TaskConfig(kind="classification", instructions="Classify the sentiment of the review.",
                                labels=LABELS))


TEXTS = ["The soup was lovely and the staff were kind.", "Cold food, rude waiter, never again.",
         "Best pizza in town, I will be back!", "The room smelled of smoke and the bed was broken.",
         "A delightful afternoon, highly recommended."]


def records(n: int = 5) -> list[Record]:
    return [Record(id=f"r{i}", fields={"text": TEXTS[i % len(TEXTS)] + f" (#{i})"}) for i in range(n)]


def engine(task, annotator, store: Store, concurrency: int = 4) -> AnnotationRun:  # type: ignore[no-untyped-def]
    """A real AnnotationRun: no budget limit, no price (cost 0)."""
    return AnnotationRun(task=task, annotator=annotator, store=store, budget=Budget(), price=None,
                         concurrency=concurrency)


# -- pure helpers ------------------------------------------------------------------------------------
@pytest.mark.parametrize("value, expected", [("1", 1.0), ("0", 0.0), ("2.5", 2.5), ("-3", 0.0), (" 7 ", 7.0),
                                             (None, None), ("", None), ("soon", None)])
def test_retry_after_seconds_numeric(value: str | None, expected: float | None) -> None:
    assert retry_after_seconds(value) == expected


def test_retry_after_seconds_http_date() -> None:
    future = email.utils.format_datetime(datetime.now(timezone.utc) + timedelta(seconds=30), usegmt=True)
    assert 27.0 <= retry_after_seconds(future) <= 30.0  # type: ignore[operator]
    past = email.utils.format_datetime(datetime.now(timezone.utc) - timedelta(hours=1), usegmt=True)
    assert retry_after_seconds(past) == 0.0
    assert retry_after_seconds("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0  # RFC 9110's example, long past


def test_choice_logprobs_from_top_maps_token_variants_onto_choices() -> None:
    top = [{"token": " positive", "logprob": -0.2}, {"token": "pos", "logprob": -2.0},
           {"token": "Negative", "logprob": -1.5}, {"token": " the", "logprob": -4.0},
           {"token": " ", "logprob": -6.0}]
    lp, floored = choice_logprobs_from_top(top, ("positive", "negative"))  # type: ignore[misc]
    assert floored == []
    assert lp["positive"] == pytest.approx(math.log(math.exp(-0.2) + math.exp(-2.0)))  # mass of both prefixes
    assert lp["negative"] == pytest.approx(-1.5)  # case and leading space do not matter


def test_choice_logprobs_from_top_floors_a_missing_choice() -> None:
    top = [{"token": "positive", "logprob": -0.1}, {"token": "negative", "logprob": -2.5},
           {"token": "The", "logprob": -7.25}]
    lp, floored = choice_logprobs_from_top(top, ("positive", "negative", "neutral"))  # type: ignore[misc]
    assert floored == ["neutral"]
    assert lp["neutral"] == -7.25  # the lowest listed log-probability: an upper bound
    assert lp["positive"] == -0.1 and lp["negative"] == -2.5


def test_choice_logprobs_from_top_refuses_ambiguous_prefix_and_empty_list() -> None:
    top = [{"token": "yes", "logprob": -0.3}, {"token": "no", "logprob": -1.4}]
    assert choice_logprobs_from_top(top, ("yes", "yesterday", "no")) is None  # "yes" starts two choices
    assert choice_logprobs_from_top([], ("yes", "no")) is None


def test_choice_logprobs_from_top_gives_no_floor_when_no_choice_is_listed() -> None:
    """Every choice at the same floor would make the first label win by label order."""
    top = [{"token": "I", "logprob": -0.2}, {"token": "The", "logprob": -1.9}]
    assert choice_logprobs_from_top(top, ("positive", "negative")) == ({}, ["positive", "negative"])


# -- protocol on the wire ----------------------------------------------------------------------------
async def test_scoring_sends_the_exact_logprob_protocol(fault: FaultServer, api_key: str) -> None:
    fault.default = scored([(" positive", -0.3), ("pos", -2.1), (" Negative", -1.6), ("The", -5.0)],
                           prompt_tokens=37, completion_tokens=1)
    async with opened(config(fault.url, seed=11)) as ann:
        resp = await ann.answer(QUERY)
    [req] = fault.chat_requests
    assert req.method == "POST" and req.path == "/v1/chat/completions"
    assert req.headers["authorization"] == f"Bearer {api_key}"
    assert req.headers["content-type"] == "application/json"
    body = req.body
    assert body["logprobs"] is True and body["top_logprobs"] == 20
    assert body["max_tokens"] == 1 and body["temperature"] == 0.0 and body["seed"] == 11
    assert body["model"] == "fault-model"
    assert body["messages"] == [{"role": "system", "content": "Classify the sentiment."},
                                {"role": "user", "content": "Text: lovely soup\nLabel:"}]
    assert resp.choice_logprobs == {"positive": pytest.approx(math.log(math.exp(-0.3) + math.exp(-2.1))),
                                    "negative": pytest.approx(-1.6)}
    assert resp.usage.prompt_tokens == 37 and resp.usage.completion_tokens == 1
    assert resp.raw is not None and resp.raw["floored_choices"] == []
    assert ann.logprobs_supported is True and ann.retries_done == 0
    assert resp.requests == 1


async def test_a_choice_missing_from_top_logprobs_gets_the_floor(fault: FaultServer, api_key: str) -> None:
    fault.default = scored([("positive", -0.05), ("great", -3.0), ("good", -4.5)])
    async with opened(config(fault.url)) as ann:
        resp = await ann.answer(QUERY)
    assert resp.choice_logprobs == {"positive": -0.05, "negative": -4.5}
    assert resp.raw is not None and resp.raw["floored_choices"] == ["negative"]


async def test_free_text_query_sends_no_logprob_fields(fault: FaultServer, api_key: str) -> None:
    fault.default = plain("A short summary.")
    q = Query((Message("user", "Summarise: ..."),), max_tokens=32)
    async with opened(config(fault.url)) as ann:
        resp = await ann.answer(q)
    [req] = fault.chat_requests
    assert "logprobs" not in req.body and "top_logprobs" not in req.body
    assert req.body["max_tokens"] == 32 and req.body["temperature"] == 0.0
    assert resp.text == "A short summary." and resp.choice_logprobs is None


async def test_generation_samples_send_greedy_then_seeded_temperature_calls(fault: FaultServer, api_key: str) -> None:
    fault.default = plain('{"entities": []}', prompt_tokens=30, completion_tokens=6)
    q = Query((Message("user", "Sentence: Obi ran"),), max_tokens=40, json_schema={"type": "object"}, samples=3)
    async with opened(config(fault.url, temperature=0.9, seed=7)) as ann:
        resp = await ann.answer(q)
    bodies = sorted((r.body for r in fault.chat_requests), key=lambda b: b["temperature"])
    assert [b["temperature"] for b in bodies] == [0.0, 0.9, 0.9]
    assert sorted(b.get("seed") for b in bodies[1:]) == [8, 9]
    assert all(b["response_format"]["type"] == "json_schema" for b in bodies)
    assert resp.samples == ('{"entities": []}',) * 3 and resp.text == '{"entities": []}'
    assert resp.usage.prompt_tokens == 90 and resp.usage.completion_tokens == 18  # every sample is paid for
    assert resp.requests == 3
    assert ann.max_usage(q).completion_tokens == 3 * 40


VOTES_BY_SEED = {0: "positive", 1: "negative", 2: "positive", 3: "Positive.", 4: "I am not sure"}


def no_logprob_server(seen: Seen) -> Reply:
    """A server that ignores `logprobs` and answers each sample by its seed."""
    if seen.body.get("logprobs"):
        return plain("positive")
    return plain(VOTES_BY_SEED[seen.body["seed"]], prompt_tokens=40, completion_tokens=2)


async def test_falls_back_to_k_votes_without_logprobs(fault: FaultServer, api_key: str, tmp_path: Path) -> None:
    fault.default = no_logprob_server
    cfg = config(fault.url, samples=5, temperature=0.7)
    task = sentiment_task()
    async with opened(cfg) as ann:
        with Store(tmp_path / "votes.db") as store:
            summary = await engine(task, ann, store, concurrency=1).run(records(3))
            anns = store.annotations()
            calls = [store.calls(a) for a in anns]
    assert summary.annotated == 3 and summary.errors == 0
    assert ann.logprobs_supported is False
    reqs = fault.chat_requests
    probes = [r for r in reqs if r.body.get("logprobs")]
    samples = [r for r in reqs if not r.body.get("logprobs")]
    assert len(probes) == 1  # asked once; after the first answer without logprobs it stops asking
    assert len(samples) == 3 * cfg.samples
    for r in samples:
        assert "top_logprobs" not in r.body
        assert r.body["temperature"] == 0.7 and r.body["max_tokens"] == 8
    assert sorted(r.body["seed"] for r in samples) == sorted(list(range(cfg.samples)) * 3)
    for a, [call] in zip(anns, calls):
        assert call["response"]["samples"] == [VOTES_BY_SEED[i] for i in range(cfg.samples)]
        assert call["response"]["choice_logprobs"] is None
        assert len(call["raw"]["responses"]) == cfg.samples  # every sampled body kept for audit
        assert a.label == "positive"
        assert a.distribution == {"positive": pytest.approx(0.75), "negative": pytest.approx(0.25)}


async def test_probe_without_logprobs_is_counted_in_usage(fault: FaultServer, api_key: str, tmp_path: Path) -> None:
    fault.default = no_logprob_server
    task = sentiment_task()
    async with opened(config(fault.url, samples=3)) as ann:
        with Store(tmp_path / "usage.db") as store:
            await engine(task, ann, store, concurrency=1).run(records(1))
            spent = store.spent()
            [call] = store.calls(store.annotations()[0])
    assert len(fault.chat_requests) == 4  # one probe, three samples: all answered, all paid
    assert call["response"]["requests"] == 4 and "probe" in call["raw"]  # the probe's body kept for audit
    # the probe answered 42+1 tokens, each sample 40+2
    assert spent["tokens"] == (42 + 1) + 3 * (40 + 2)


# -- retries -------------------------------------------------------------------------------------------
async def test_429_honours_retry_after(fault: FaultServer, api_key: str) -> None:
    fault.script(rate_limited("1"))
    async with opened(config(fault.url)) as ann:
        t0 = time.perf_counter()
        resp = await ann.answer(QUERY)
        elapsed = time.perf_counter() - t0
    reqs = fault.chat_requests
    assert len(reqs) == 2 and ann.retries_done == 1
    assert elapsed >= 1.0
    assert reqs[1].at - reqs[0].at >= 1.0  # the server saw the retry no sooner than it asked
    assert resp.choice_logprobs is not None


async def test_a_non_finite_retry_after_does_not_hang(fault: FaultServer, api_key: str) -> None:
    fault.script(rate_limited("inf"))
    async with opened(config(fault.url)) as ann:
        resp = await asyncio.wait_for(ann.answer(QUERY), timeout=3.0)  # falls back to its own backoff
    assert resp.choice_logprobs is not None and len(fault.chat_requests) == 2


@pytest.mark.parametrize("status", [500, 502, 503, 504])
async def test_5xx_then_success(fault: FaultServer, api_key: str, status: int) -> None:
    fault.script(server_error(status))
    async with opened(config(fault.url)) as ann:
        resp = await ann.answer(QUERY)
    assert len(fault.chat_requests) == 2 and ann.retries_done == 1
    assert resp.choice_logprobs is not None


async def test_timeout_then_success(fault: FaultServer, api_key: str) -> None:
    fault.script(hang(3.0))
    async with opened(config(fault.url, timeout_s=0.3)) as ann:
        t0 = time.perf_counter()
        resp = await ann.answer(QUERY)
        elapsed = time.perf_counter() - t0
    assert len(fault.chat_requests) == 2 and ann.retries_done == 1
    assert 0.3 <= elapsed < 2.0  # gave up on the hang at its timeout, did not wait for it
    assert resp.choice_logprobs is not None


@pytest.mark.parametrize("broken", [malformed(), Reply(body={"object": "chat.completion", "choices": []}),
                                    Reply(body=b'{"choices": [{"message": ')])
async def test_broken_200_body_is_malformed_and_never_retried(fault: FaultServer, api_key: str,
                                                              broken: Reply) -> None:
    """A 200 was answered, so it was paid: asking again would pay again without telling anyone."""
    fault.script(broken)
    async with opened(config(fault.url)) as ann:
        with pytest.raises(MalformedAnswer) as err:
            await ann.answer(QUERY)
    assert len(fault.chat_requests) == 1 and ann.retries_done == 0
    sent = broken.body
    assert err.value.raw == (sent if isinstance(sent, dict) else sent.decode())  # the body, kept for the item


async def test_undecodable_200_body_is_retried(fault: FaultServer, api_key: str) -> None:
    """A body that fails transport decoding (bad gzip) is a transport fault, like a dropped
    connection: httpx never hands it over, so it is retried as before."""
    fault.script(Reply(body=b"this is not gzip", headers={"Content-Encoding": "gzip"}))
    async with opened(config(fault.url)) as ann:
        resp = await ann.answer(QUERY)
    assert len(fault.chat_requests) == 2
    assert resp.choice_logprobs is not None


async def test_gives_up_after_max_retries_without_leaking_the_key(fault: FaultServer, api_key: str) -> None:
    fault.default = server_error(503, retry_after="0")
    async with opened(config(fault.url, max_retries=2)) as ann:
        with pytest.raises(AnnotatorError) as err:
            await ann.answer(QUERY)
    assert len(fault.chat_requests) == 3  # 1 + max_retries
    assert ann.retries_done == 2
    msg = str(err.value)
    assert "3 attempts" in msg and "HTTP 503" in msg
    assert api_key not in msg and api_key not in repr(err.value)


async def test_gives_up_on_repeated_timeouts(fault: FaultServer, api_key: str) -> None:
    fault.default = hang(2.0)
    async with opened(config(fault.url, max_retries=1, timeout_s=0.2)) as ann:
        with pytest.raises(AnnotatorError, match="timeout"):
            await ann.answer(QUERY)
    assert len(fault.chat_requests) == 2


@pytest.mark.parametrize("status", [400, 401, 403, 404, 422])
async def test_client_errors_fail_at_once(fault: FaultServer, api_key: str, status: int) -> None:
    fault.default = http_error(status, "invalid api key" if status == 401 else "bad request")
    async with opened(config(fault.url)) as ann:
        t0 = time.perf_counter()
        with pytest.raises(AnnotatorError) as err:
            await ann.answer(QUERY)
        assert time.perf_counter() - t0 < 1.0
    assert len(fault.chat_requests) == 1 and ann.retries_done == 0
    assert f"HTTP {status}" in str(err.value)
    assert api_key not in str(err.value)


# -- the API key -----------------------------------------------------------------------------------------
async def test_api_key_is_read_from_the_named_env_var_at_call_time(fault: FaultServer,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(KEY_ENV, raising=False)
    async with opened(config(fault.url)) as ann:
        await ann.answer(QUERY)
        monkeypatch.setenv(KEY_ENV, "sk-first")
        await ann.answer(QUERY)
        monkeypatch.setenv(KEY_ENV, "sk-rotated")
        await ann.answer(QUERY)
    auth = [r.headers.get("authorization") for r in fault.chat_requests]
    assert auth == [None, "Bearer sk-first", "Bearer sk-rotated"]
    async with opened(config(fault.url, api_key_env=None)) as ann:
        await ann.answer(QUERY)
    assert "authorization" not in fault.chat_requests[-1].headers


async def test_a_key_echoed_in_an_error_body_is_redacted(fault: FaultServer, api_key: str) -> None:
    fault.default = http_error(401, f"invalid api key {api_key} for this org")
    async with opened(config(fault.url)) as ann:
        with pytest.raises(AnnotatorError) as err:
            await ann.answer(QUERY)
    assert api_key not in str(err.value) and "invalid api key *** for this org" in str(err.value)


async def test_a_key_echoed_in_a_200_body_is_redacted_everywhere(fault: FaultServer, api_key: str,
                                                                 tmp_path: Path) -> None:
    """Echoed in the content of a scored answer (stored as raw and as text), and in a body that
    is not JSON (kept with the MalformedAnswer that reaches the engine and the terminal)."""
    fault.script(scored([("positive", -0.1), ("negative", -2.5)], content=f"positive {api_key}", model=api_key),
                 malformed(f"<html>proxy says: key {api_key} rejected</html>".encode()))
    async with opened(config(fault.url)) as ann:
        resp = await ann.answer(QUERY)
        with pytest.raises(MalformedAnswer) as err:
            await ann.answer(QUERY)
    assert resp.text == "positive ***" and resp.raw["response"]["model"] == "***"
    assert api_key not in repr(resp.as_json())
    assert err.value.raw == "<html>proxy says: key *** rejected</html>" and api_key not in str(err.value)


async def test_a_key_spelled_with_json_escapes_is_redacted_too(fault: FaultServer, api_key: str) -> None:
    escaped = "".join(f"\\u{ord(ch):04x}" for ch in api_key)  # the raw text never contains the key
    body = ('{"choices": [{"message": {"content": "' + escaped + '"}}], "usage": null}').encode()
    fault.script(Reply(body=body))
    async with opened(config(fault.url)) as ann:
        resp = await ann.answer(Query((Message("user", "hi"),)))
    assert resp.text == "***"


@pytest.mark.parametrize("url", ["https://user:secret@api.example.com/v1", "http://sk-abc@127.0.0.1:8000/v1",
                                 "https://:pw@host/v1"])
def test_credentials_in_base_url_are_rejected(url: str) -> None:
    """The base URL is part of the cache identity and of every message: no place for secrets."""
    with pytest.raises(ConfigError, match="put credentials in api_key_env, not in base_url") as err:
        make_annotator(config(url))
    assert err.value.field == "annotator.base_url"
    assert isinstance(make_annotator(config("https://api.example.com/v1")), OpenAIAnnotator)


def _db_files(db: Path) -> list[Path]:
    return [p for p in db.parent.iterdir() if p.name.startswith(db.name)]


async def test_api_key_never_reaches_the_database(fault: FaultServer, api_key: str, tmp_path: Path) -> None:
    db = tmp_path / "project.db"
    fault.script(rate_limited("0"), http_error(401, "invalid api key"))  # a retry, and one item that fails
    task = sentiment_task()
    async with opened(config(fault.url)) as ann:
        with Store(db) as store:
            summary = await engine(task, ann, store, concurrency=1).run(records(5))
            assert summary.failed == 1 and summary.annotated == 4
            assert api_key not in (summary.last_failure or "")
            summary2 = await engine(task, ann, store, concurrency=1).run(records(5))
            assert summary2.annotated == 1 and summary2.already_done == 4
    assert all(r.headers["authorization"] == f"Bearer {api_key}" for r in fault.chat_requests)
    # every byte on disk: the database, its WAL and shared-memory files
    files = _db_files(db)
    assert db in files
    for f in files:
        assert api_key.encode() not in f.read_bytes(), f.name
    with sqlite3.connect(db) as conn:
        tables = [t for (t,) in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        assert {"annotations", "cache", "ledger"} <= set(tables)
        n_rows = 0
        for t in tables:
            for row in conn.execute(f"SELECT * FROM {t}"):
                n_rows += 1
                assert api_key not in repr(row), t
        assert conn.execute("SELECT COUNT(*) FROM annotations").fetchone()[0] == 5
        assert conn.execute("SELECT COUNT(*) FROM ledger").fetchone()[0] == 5
    assert n_rows >= 15


# -- the engine over the fault server -----------------------------------------------------------------
async def test_no_label_among_the_top_tokens_is_stored_as_an_error(fault: FaultServer, api_key: str,
                                                                   tmp_path: Path) -> None:
    """It used to floor both labels equally and store the first one at 0.5: a guess by label order."""
    fault.default = scored([("I", -0.3), ("The", -1.6), ("Sorry", -2.0)])
    async with opened(config(fault.url)) as ann:
        with Store(tmp_path / "none.db") as store:
            s = await engine(sentiment_task(), ann, store, concurrency=1).run(records(2))
            anns = store.annotations()
            [call] = store.calls(anns[0])
    assert s.annotated == 2 and s.errors == 2 and len(fault.chat_requests) == 2  # scored, not voted
    for a in anns:
        assert a.label is None and a.distribution is None
        assert "no label among the model's top tokens" in a.error
    assert call["response"]["choice_logprobs"] == {} and call["raw"]["floored_choices"] == ["positive", "negative"]


async def test_engine_run_stores_scored_distributions_and_reruns_from_cache(fault: FaultServer, api_key: str,
                                                                             tmp_path: Path) -> None:
    fault.default = scored([(" negative", -0.4), (" positive", -1.2), ("The", -3.0)], prompt_tokens=50)
    fault.script(server_error(500, retry_after="0"), rate_limited("0"))  # two faults on the way
    task = sentiment_task()
    db = tmp_path / "run.db"
    async with opened(config(fault.url, concurrency=4)) as ann:
        with Store(db) as store:
            s = await engine(task, ann, store, concurrency=4).run(records(6))
            anns = store.annotations()
            spent = store.spent()
    assert s.annotated == 6 and s.calls == 6 and s.failed == 0 and s.errors == 0
    assert len(fault.chat_requests) == 8
    assert fault.max_in_flight <= 4
    for a in anns:
        assert a.label == "negative"
        assert sum(a.distribution.values()) == pytest.approx(1.0)
        assert a.distribution["negative"] == pytest.approx(1 / (1 + math.exp(-0.8)))
        assert a.prompt_tokens == 50 and a.completion_tokens == 1
    assert spent["calls"] == 6 and spent["tokens"] == 6 * 51
    # a rerun on a fresh annotation table replays the cache and sends nothing
    with sqlite3.connect(db) as conn:
        conn.execute("DELETE FROM annotations")
    async with opened(config(fault.url, concurrency=4)) as ann:
        with Store(db) as store:
            s2 = await engine(task, ann, store, concurrency=4).run(records(6))
            assert len(store.annotations()) == 6
    assert s2.calls == 0 and s2.from_cache == 6 and s2.annotated == 6
    assert len(fault.chat_requests) == 8


async def test_waiting_for_a_pooled_connection_is_not_a_timeout(fault: FaultServer, api_key: str) -> None:
    """k vote samples share `concurrency` connections: queueing for one must not count as a timeout."""
    fault.default = lambda seen: plain("positive", delay=0.2)
    async with opened(config(fault.url, samples=12, concurrency=2, timeout_s=0.8, max_retries=0)) as ann:
        ann.logprobs_supported = False  # straight to the k votes
        resp = await ann.answer(QUERY)  # 12 answers of 0.2 s over 2 connections: the last queues ~1 s
    assert len(resp.samples) == 12 and ann.retries_done == 0
    assert resp.requests == 12  # no probe once the server is known to give no log-probabilities
    assert fault.max_in_flight == 2


# -- a real llama.cpp server ----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def llama_server():  # type: ignore[no-untyped-def]
    with llama_cpp_server("smollm2-135m-instruct", timeout=60.0) as server:
        yield server


@pytest.mark.real_model
@pytest.mark.slow
async def test_real_llama_cpp_server_annotates_and_reruns_from_cache(llama_server, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    cfg = AnnotatorConfig(backend="openai", base_url=llama_server.url, model=llama_server.model,
                          timeout_s=60.0, max_retries=1, samples=3, temperature=0.7, concurrency=2)
    task = sentiment_task()
    recs = records(5)
    db = tmp_path / "real.db"
    async with opened(cfg) as ann:
        with Store(db) as store:
            s = await engine(task, ann, store, concurrency=2).run(recs)
            anns = store.annotations()
            calls = [c for a in anns for c in store.calls(a)]
            spent = store.spent()
        scored_by_logprobs = ann.logprobs_supported
    assert s.failed == 0, s.last_failure
    # llama_cpp.server offers top_logprobs: every label was scored, none voted
    assert scored_by_logprobs is True
    assert len(calls) == 5 and all(c["response"]["choice_logprobs"] is not None for c in calls)
    assert all(c["raw"]["response"]["choices"][0]["logprobs"]["content"][0]["top_logprobs"] for c in calls)
    assert s.annotated == 5 and s.errors == 0
    assert {a.record_id for a in anns} == {r.id for r in recs}
    for a in anns:
        assert a.error is None
        assert set(a.distribution) == set(LABELS)
        assert sum(a.distribution.values()) == pytest.approx(1.0)
        assert a.label in LABELS
        assert a.prompt_tokens > 0 and a.completion_tokens > 0
    assert spent["tokens"] > 0 and spent["calls"] == s.calls > 0
    # the same run again: everything is annotated, nothing is sent
    async with opened(cfg) as ann:
        with Store(db) as store:
            s2 = await engine(task, ann, store, concurrency=2).run(recs)
            spent2 = store.spent()
    assert s2.calls == 0 and s2.already_done == 5 and spent2["calls"] == spent["calls"]
    # and a fresh annotation table is rebuilt from the response cache, still without a call
    with sqlite3.connect(db) as conn:
        conn.execute("DELETE FROM annotations")
    async with opened(cfg) as ann:
        with Store(db) as store:
            s3 = await engine(task, ann, store, concurrency=2).run(recs)
            assert len(store.annotations()) == 5
    assert s3.calls == 0 and s3.from_cache == s.calls


def with_token_logprobs(seen: Seen) -> Reply:
    """A server that returns per-token log-probabilities when asked, as the OpenAI API does."""
    body = plain('{"entities": []}').body
    if seen.body.get("logprobs"):
        body["choices"][0]["logprobs"] = {"content": [
            {"token": t, "logprob": lp, "bytes": list(t.encode()), "top_logprobs": []}
            for t, lp in (('{"', -0.01), ("entities", -0.02), ('":', 0.0), (" []}", -0.5))]}
    return Reply(body=body)


async def test_generation_asks_for_token_logprobs_only_when_configured(fault: FaultServer, api_key: str) -> None:
    fault.default = with_token_logprobs
    q = Query((Message("user", "Sentence: Obi ran"),), max_tokens=40, json_schema={"type": "object"})
    async with opened(config(fault.url, token_logprobs=True)) as ann:
        on = await ann.answer(q)
    async with opened(config(fault.url)) as ann:
        off = await ann.answer(q)
    first, second = fault.chat_requests
    assert first.body["logprobs"] is True and "logprobs" not in second.body
    assert on.token_logprobs == (('{"', -0.01), ("entities", -0.02), ('":', 0.0), (" []}", -0.5))
    assert off.token_logprobs == ()
