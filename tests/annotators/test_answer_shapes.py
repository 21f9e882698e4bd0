"""Wrong-shape 200 answers from a real OpenAI-compatible server on 127.0.0.1 (the fault server).

Each bad body must end as a :class:`MalformedAnswer` carrying the body, after exactly one request:
a 200 was answered and so paid, and a retry would pay again without a word. Bodies a sloppy but
honest server sends (no usage, null content, float token counts) must still be read.
"""
from __future__ import annotations

import contextlib
import copy
import json
import math
from pathlib import Path
from typing import Any, AsyncIterator, Callable, Iterator

import pytest

from labelwise.annotators.base import make_annotator
from labelwise.annotators.openai import MAX_USAGE_TOKENS, OpenAIAnnotator, int64_safe, read_answer
from labelwise.config import AnnotatorConfig, TaskConfig
from labelwise.cost import Budget
from labelwise.engine import AnnotationRun
from labelwise.errors import AnnotatorError, MalformedAnswer
from labelwise.store import Store
from labelwise.tasks import make_task
from labelwise.types import Record
from labelwise.types import Message, Query
from tests.servers import FaultServer, Reply, completion

CHOICES = ("positive", "negative")
SCORE = Query((Message("user", "Text: lovely soup\nLabel:"),), choices=CHOICES, max_tokens=8)
GENERATE = Query((Message("user", "Summarise: lovely soup"),), max_tokens=16)
GOOD_TOP = [("positive", -0.1), ("negative", -2.4)]


@pytest.fixture
def fault() -> Iterator[FaultServer]:
    with FaultServer() as server:
        yield server


@contextlib.asynccontextmanager
async def opened(url: str, **kw: Any) -> AsyncIterator[OpenAIAnnotator]:
    cfg = AnnotatorConfig(**{"backend": "openai", "base_url": url, "model": "fault-model", "max_retries": 3,
                             "timeout_s": 5.0, "samples": 3, **kw})
    ann = make_annotator(cfg)
    assert isinstance(ann, OpenAIAnnotator)
    try:
        yield ann
    finally:
        await ann.aclose()


def body(mutate: Callable[[dict[str, Any]], Any], top: Any = GOOD_TOP) -> dict[str, Any]:
    """A valid scored completion with one part broken by ``mutate``."""
    b = completion("positive", top)
    mutate(b)
    return b


def first_top(b: dict[str, Any]) -> list[dict[str, Any]]:
    return b["choices"][0]["logprobs"]["content"][0]["top_logprobs"]


def setter(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def mutate(b: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        node: Any = b
        for p in parents:
            node = node[int(p)] if p.isdigit() else node[p]
        node[last if not last.isdigit() else int(last)] = value
    return mutate


BAD_SHAPES: dict[str, dict[str, Any] | list[Any]] = {
    "choices [null]": body(setter("choices", [None])),
    "choices an object": body(setter("choices", {"0": {"message": {"content": "positive"}}})),
    "choices a string": body(setter("choices", "positive")),
    "choices missing": body(lambda b: b.pop("choices")),
    "choices empty": body(setter("choices", [])),
    "an error object with 200": {"error": {"message": "model overloaded", "type": "server_error"}},
    "message a string": body(setter("choices.0.message", "positive")),
    "content an integer": body(setter("choices.0.message.content", 7)),
    "content a list": body(setter("choices.0.message.content", ["positive"])),
    "logprobs a string": body(setter("choices.0.logprobs", "yes")),
    "logprobs.content an object": body(setter("choices.0.logprobs.content", {"token": "positive"})),
    "top_logprobs an object": body(lambda b: b["choices"][0]["logprobs"]["content"][0].update(top_logprobs={"a": 1})),
    "top entry without logprob": body(lambda b: first_top(b)[1].pop("logprob")),
    "top entry without token": body(lambda b: first_top(b)[0].pop("token")),
    "top entry null": body(lambda b: first_top(b).append(None)),
    "top logprob a string": body(lambda b: first_top(b)[1].update(logprob="-2.4")),
    "top logprob true": body(lambda b: first_top(b)[1].update(logprob=True)),
    "top logprob NaN": body(lambda b: first_top(b)[1].update(logprob=math.nan)),
    "top logprob -inf": body(lambda b: first_top(b)[1].update(logprob=-math.inf)),
    "top logprob +inf": body(lambda b: first_top(b)[0].update(logprob=math.inf)),
    "token logprob NaN": body(lambda b: b["choices"][0]["logprobs"]["content"][0].update(logprob=math.nan)),
    "usage a string": body(setter("usage", "lots")),
    "usage negative": body(setter("usage.prompt_tokens", -5)),
    "usage NaN": body(setter("usage.completion_tokens", math.nan)),
    "usage inf": body(setter("usage.prompt_tokens", math.inf)),
    "usage 'many'": body(setter("usage.completion_tokens", "many")),
    "usage 1e30": body(setter("usage.prompt_tokens", 1e30)),
    "usage a huge int": body(setter("usage.prompt_tokens", 10**40)),
    "usage past the cap": body(setter("usage.completion_tokens", MAX_USAGE_TOKENS + 1)),
    "usage a fraction": body(setter("usage.prompt_tokens", 12.5)),
    "usage true": body(setter("usage.prompt_tokens", True)),
    "body a list": [completion("positive", GOOD_TOP)],
}


def same_json(a: Any, b: Any) -> bool:
    """Equality that treats NaN as equal to NaN (the bodies carry NaN on purpose)."""
    return json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)


@pytest.mark.parametrize("name", list(BAD_SHAPES))
async def test_a_wrong_shape_is_malformed_with_the_body_kept_and_sent_once(fault: FaultServer, name: str) -> None:
    sent = BAD_SHAPES[name]
    fault.default = Reply(body=copy.deepcopy(sent))
    async with opened(fault.url) as ann:
        with pytest.raises(MalformedAnswer) as err:
            await ann.answer(SCORE)
    assert isinstance(err.value, AnnotatorError)  # callers that know only AnnotatorError still stop it
    assert len(fault.chat_requests) == 1 and ann.retries_done == 0
    expected = copy.deepcopy(sent)
    if name == "usage a huge int":  # kept as its digits (the database cannot write it): see below
        expected["usage"]["prompt_tokens"] = str(10**40)
    assert same_json(err.value.raw, expected)
    assert "cannot be read" in str(err.value)


@pytest.mark.parametrize("name", ["content an integer", "usage 'many'", "usage negative", "choices [null]"])
async def test_a_wrong_shape_fails_generation_and_votes_too(fault: FaultServer, name: str) -> None:
    """The same reading guards every path: free text, and each of k votes."""
    fault.default = Reply(body=copy.deepcopy(BAD_SHAPES[name]))
    async with opened(fault.url) as ann:
        with pytest.raises(MalformedAnswer):
            await ann.answer(GENERATE)
        ann.logprobs_supported = False
        with pytest.raises(MalformedAnswer):
            await ann.answer(SCORE)
    assert len(fault.chat_requests) == 1 + 3  # one generation, three votes; nothing retried


async def test_one_bad_vote_fails_the_answer_after_every_vote_came_back(fault: FaultServer) -> None:
    good = Reply(body=completion("positive", None))
    fault.script(good, Reply(body=BAD_SHAPES["usage 'many'"]), good)
    async with opened(fault.url, samples=3) as ann:
        ann.logprobs_supported = False
        with pytest.raises(MalformedAnswer) as err:
            await ann.answer(SCORE)
    assert err.value.raw["usage"]["completion_tokens"] == "many"
    assert len(fault.chat_requests) == 3  # every vote was sent once and came back


async def test_a_non_json_200_keeps_at_most_10k_characters(fault: FaultServer) -> None:
    fault.default = Reply(body=b"<html>" + b"x" * 50_000 + b"</html>", content_type="text/html")
    async with opened(fault.url) as ann:
        with pytest.raises(MalformedAnswer, match="not JSON") as err:
            await ann.answer(SCORE)
    assert isinstance(err.value.raw, str) and len(err.value.raw) == 10_000 and err.value.raw.startswith("<html>xxx")
    assert len(fault.chat_requests) == 1


@pytest.mark.parametrize("mutate, usage", [
    (lambda b: b.pop("usage"), (0, 0)),  # a server that does not count
    (setter("usage", None), (0, 0)),
    (setter("usage.prompt_tokens", None), (0, 1)),
    (setter("usage.prompt_tokens", 42.0), (42, 1)),  # a whole number sent as a float
    (setter("usage.prompt_tokens", MAX_USAGE_TOKENS), (MAX_USAGE_TOKENS, 1)),
    (setter("choices.0.message.content", None), (42, 1)),
    (lambda b: b["choices"][0].pop("message"), (42, 1)),
])
async def test_sloppy_but_honest_bodies_are_still_read(fault: FaultServer, mutate: Any, usage: tuple[int, int]) -> None:
    fault.default = Reply(body=body(mutate))
    async with opened(fault.url) as ann:
        resp = await ann.answer(SCORE)
    assert (resp.usage.prompt_tokens, resp.usage.completion_tokens) == usage
    assert resp.choice_logprobs == {"positive": -0.1, "negative": -2.4} and resp.requests == 1


def test_read_answer_names_what_is_wrong() -> None:
    with pytest.raises(MalformedAnswer, match=r"usage.prompt_tokens is -5"):
        read_answer(BAD_SHAPES["usage negative"])
    with pytest.raises(MalformedAnswer, match=r"message.content is int"):
        read_answer(BAD_SHAPES["content an integer"])
    with pytest.raises(MalformedAnswer, match=r"'negative' has logprob nan"):
        read_answer(BAD_SHAPES["top logprob NaN"])
    with pytest.raises(MalformedAnswer, match="model overloaded"):  # a 200 that carries an error says which
        read_answer(BAD_SHAPES["an error object with 200"])
    a = read_answer(completion("positive", GOOD_TOP))
    assert a.text == "positive" and a.top == GOOD_TOP and a.usage.total_tokens == 43


def test_integers_past_64_bits_are_kept_as_digits():
    """The project database's JSON codec cannot write them; a body must never crash the run."""
    assert int64_safe({"a": [2**64, -2**63 - 1, 2**64 - 1, -2**63, True, 1.5e300, "x"]}) == \
        {"a": [str(2**64), str(-2**63 - 1), 2**64 - 1, -2**63, True, 1.5e300, "x"]}


# -- through the engine: the item is an error with its body kept, and the run goes on -------------------
async def test_malformed_answers_become_item_errors_and_the_run_goes_on(fault: FaultServer, tmp_path: Path) -> None:
    bad = ["usage a huge int", "top logprob NaN", "content an integer", "choices [null]"]
    by_text = {f"item {i}": BAD_SHAPES[name] for i, name in enumerate(bad)}
    huge_created = completion("positive", GOOD_TOP)
    huge_created["created"] = 10**30  # a readable body with an odd field: read, and stored

    def reply(seen: Any) -> Reply:
        text = seen.body["messages"][-1]["content"]
        hit = [b for t, b in by_text.items() if t + "." in text]
        return Reply(body=copy.deepcopy(hit[0] if hit else huge_created))

    fault.default = reply
    task = make_task(TaskConfig(kind="classification", labels={"positive": "likes it", "negative": "dislikes it"}))
    recs = [Record(f"r{i}", {"text": f"item {i}."}) for i in range(6)]
    async with opened(fault.url) as ann:
        with Store(tmp_path / "p.db") as store:
            run = AnnotationRun(task=task, annotator=ann, store=store, budget=Budget(), price=None, concurrency=2)
            s = await run.run(recs)
            anns = {a.record_id: a for a in store.annotations()}
            calls = {rid: store.calls(a) for rid, a in anns.items()}
    assert s.annotated == 6 and s.errors == 4 and s.failed == 0
    assert len(fault.chat_requests) == 6  # one request per item: nothing answered was asked again
    for i, name in enumerate(bad):
        a, [call] = anns[f"r{i}"], calls[f"r{i}"]
        assert a.label is None and a.error.startswith("MalformedAnswer")
        assert call["response"] is None and isinstance(call["raw"], dict), name  # the body, for the audit
    assert anns["r4"].label == "positive" and calls["r4"][0]["raw"]["response"]["created"] == str(10**30)
