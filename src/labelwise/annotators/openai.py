"""Any OpenAI-compatible chat endpoint (vLLM, llama.cpp server, Ollama, hosted APIs).

Choices are scored from the first answer token's ``top_logprobs`` where the server offers them;
otherwise ``samples`` answers are drawn and counted as votes. Retries back off with full jitter
on 429, 5xx, timeouts and connection failures, and honour ``Retry-After``. A 200 is never
retried: it was answered, so it was paid; a body that cannot be read is a :class:`MalformedAnswer`
for that item, with the body kept. The API key is read from the environment at call time, only
ever put in the Authorization header, and replaced by ``***`` wherever a server echoes it back.
"""
from __future__ import annotations

import asyncio
import email.utils
import math
import os
import random
import re
import time
import urllib.parse
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import httpx

from ..errors import AnnotatorError, BudgetExhausted, ConfigError, MalformedAnswer
from ..types import Query, Response, Usage
from .base import default_max_usage, prompt_bytes_bound, register_annotator, reserve_more

RETRY_STATUS = {408, 409, 425, 429, 500, 502, 503, 504}
TOP_LOGPROBS = 20
# Token counts per field of one answer above this are a broken or hostile server, not a bill: it is
# 50x the largest context window on offer (2M tokens), and the ledger must never take it as spent.
MAX_USAGE_TOKENS = 10**8
RAW_TEXT_LIMIT = 10_000  # characters of a body that is not JSON kept with its MalformedAnswer
REDACTED = "***"
# orjson, the project database's codec, refuses integers outside 64 bits; 19 digits in a row is
# where a number may stop fitting (the cheap test before walking a body)
_LONG_DIGITS = re.compile(r"\d{19}")


def retry_after_seconds(value: str | None) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    try:
        seconds = float(value)
        return max(0.0, seconds) if math.isfinite(seconds) else None
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def redact(obj: Any, secret: str | None) -> Any:
    """``obj`` with every occurrence of ``secret`` in its strings (dict keys too) replaced by
    ``***``: error messages and raw bodies reach terminals, logs and the project database."""
    if not secret:
        return obj
    if isinstance(obj, str):
        return obj.replace(secret, REDACTED)
    if isinstance(obj, dict):
        return {redact(k, secret): redact(v, secret) for k, v in obj.items()}
    if isinstance(obj, list):
        return [redact(v, secret) for v in obj]
    return obj


def int64_safe(obj: Any) -> Any:
    """``obj`` with integers that do not fit 64 bits kept as their digits: every body is stored,
    and a number the database cannot write must not crash the run (usage then reads as
    malformed, since a count of tokens is never text)."""
    if isinstance(obj, int) and not isinstance(obj, bool):
        return obj if -2**63 <= obj < 2**64 else str(obj)
    if isinstance(obj, dict):
        return {k: int64_safe(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [int64_safe(v) for v in obj]
    return obj


# -- reading a 200 body --------------------------------------------------------------------------------
def _number(x: Any) -> bool:
    """A JSON number that is finite (true/false and huge or non-finite values are not)."""
    if isinstance(x, bool) or not isinstance(x, (int, float)):
        return False
    try:
        return math.isfinite(x)
    except OverflowError:  # an int too large for a float
        return False


def _malformed(why: str, raw: Any = None) -> MalformedAnswer:
    return MalformedAnswer(f"the server answered 200 with a body that cannot be read: {why}", raw=raw)


def _tokens(u: Mapping[str, Any], name: str) -> int:
    v = u.get(name)
    if v is None:
        return 0
    if not _number(v) or v != int(v) or not 0 <= v <= MAX_USAGE_TOKENS:
        raise _malformed(f"usage.{name} is {v!r}, not a whole number of tokens from 0 to {MAX_USAGE_TOKENS:,}")
    return int(v)


def usage_of(data: Mapping[str, Any]) -> Usage:
    """Token usage of one body. None is 0 (some servers do not count); anything else that is not
    a sane count is malformed, because the ledger and the budget take it as spent."""
    u = data.get("usage")
    if u is None:
        return Usage()
    if not isinstance(u, Mapping):
        raise _malformed(f"usage is {type(u).__name__}, not an object")
    return Usage(_tokens(u, "prompt_tokens"), _tokens(u, "completion_tokens"))


def first_choice(data: Mapping[str, Any]) -> Mapping[str, Any]:
    choices = data.get("choices")
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], Mapping):
        hint = f"; error: {str(data['error'])[:300]}" if "error" in data else ""
        raise _malformed(f"'choices' is {str(choices)[:80]}, not a list of choice objects{hint}")
    return choices[0]


def text_of(choice: Mapping[str, Any]) -> str:
    """The answer's text; a missing message or null content is an empty answer (some servers
    send none for a 1-token probe), a content that is not text is malformed."""
    msg = choice.get("message")
    if msg is None:
        return ""
    if not isinstance(msg, Mapping):
        raise _malformed(f"message is {type(msg).__name__}, not an object")
    content = msg.get("content")
    if content is None:
        return ""
    if not isinstance(content, str):
        raise _malformed(f"message.content is {type(content).__name__}, not text")
    return content


def _logprob_entry(e: Any, where: str) -> tuple[str, float]:
    if not isinstance(e, Mapping) or not isinstance(e.get("token"), str):
        raise _malformed(f"{where} has an entry without a token: {str(e)[:80]}")
    lp = e.get("logprob")
    if not _number(lp):
        raise _malformed(f"{where} entry {e['token']!r} has logprob {lp!r}, not a finite number")
    return e["token"], float(lp)


def _logprob_content(choice: Mapping[str, Any]) -> list[Any]:
    lps = choice.get("logprobs")
    if lps is None:
        return []
    if not isinstance(lps, Mapping):
        raise _malformed(f"logprobs is {type(lps).__name__}, not an object")
    content = lps.get("content")
    if content is None:
        return []
    if not isinstance(content, list):
        raise _malformed(f"logprobs.content is {type(content).__name__}, not a list")
    return content


def token_logprobs_of(choice: Mapping[str, Any]) -> tuple[tuple[str, float], ...]:
    """(piece, logprob) per generated token from a chat choice's ``logprobs.content``; empty
    when the server sent none. A non-finite or missing value is malformed: it would be stored as
    null and read back as no number."""
    return tuple(_logprob_entry(c, "logprobs.content") for c in _logprob_content(choice))


def top_logprobs_of(choice: Mapping[str, Any]) -> list[tuple[str, float]] | None:
    """The first token's (token, logprob) alternatives, or None when the server sent none."""
    content = _logprob_content(choice)
    if not content:
        return None
    top = content[0].get("top_logprobs") if isinstance(content[0], Mapping) else None
    if not top:
        return None
    if not isinstance(top, list):
        raise _malformed(f"top_logprobs is {type(top).__name__}, not a list")
    return [_logprob_entry(e, "top_logprobs") for e in top]


@dataclass(frozen=True)
class Answer:
    """One 200 body, read and checked as a whole where it arrives, so a wrong shape fails with
    the body at hand and nothing downstream meets it."""

    data: dict[str, Any]
    text: str
    top: list[tuple[str, float]] | None  # the first token's top log-probabilities, if sent
    pieces: tuple[tuple[str, float], ...]
    usage: Usage


def read_answer(data: Any) -> Answer:
    """An Answer, or MalformedAnswer carrying ``data`` as its raw body."""
    try:
        if not isinstance(data, dict):
            raise _malformed(f"the body is a JSON {type(data).__name__}, not an object")
        choice = first_choice(data)
        return Answer(data, text_of(choice), top_logprobs_of(choice), token_logprobs_of(choice), usage_of(data))
    except MalformedAnswer as e:
        e.raw = data
        raise


def _logaddexp(a: float, b: float) -> float:
    m = max(a, b)
    return m + math.log(math.exp(a - m) + math.exp(b - m))


def choice_logprobs_from_top(top: Sequence[tuple[str, float] | Mapping[str, Any]],
                             choices: tuple[str, ...]) -> tuple[dict[str, float], list[str]] | None:
    """Map the first token's top log-probabilities onto the choices.

    Returns (logprob per choice, choices that were not in the list and got the floor), or None
    when the list is empty or a token is a prefix of several choices and the first token cannot
    tell them apart. When no choice is in the list at all, no floor is given (every choice at
    the same floor would be a label picked by label order): ({}, every choice).
    """
    pairs = [_logprob_entry(e, "top_logprobs") if isinstance(e, Mapping) else e for e in top]
    if not pairs:
        return None
    out: dict[str, float] = {}
    for token, lp in pairs:
        tok = token.strip().lower()
        if not tok:
            continue
        owners = [c for c in choices if c.lower().startswith(tok)]
        if len(owners) > 1:
            return None
        if owners:
            c = owners[0]
            out[c] = _logaddexp(out[c], lp) if c in out else lp
    floored = [c for c in choices if c not in out]
    if not out:
        return {}, floored
    floor = min(lp for _, lp in pairs)
    for c in floored:
        out[c] = floor  # an upper bound: the choice ranked below everything listed
    return out, floored


def _sum_usage(answers: Sequence[Answer]) -> Usage:
    return Usage(sum(a.usage.prompt_tokens for a in answers), sum(a.usage.completion_tokens for a in answers))


def _check_base_url(base_url: str | None) -> str:
    """The base URL goes into the cache identity and into messages: never credentials."""
    if not base_url:
        raise ConfigError("the openai backend needs annotator.base_url (e.g. http://127.0.0.1:8000/v1)",
                          field="annotator.base_url")
    try:
        parts = urllib.parse.urlsplit(base_url)
        has_credentials = parts.username is not None or parts.password is not None
    except ValueError as e:
        raise ConfigError(f"'{base_url}' is not a URL ({e})", field="annotator.base_url") from None
    if has_credentials:
        raise ConfigError("put credentials in api_key_env, not in base_url", field="annotator.base_url")
    return base_url.rstrip("/")


POOL = 8  # connections per HTTP client (see OpenAIAnnotator._http)


class OpenAIAnnotator:
    backend = "openai"

    def __init__(self, cfg: Any) -> None:
        self.base_url = _check_base_url(cfg.base_url)
        self.cfg = cfg
        self.model = cfg.model
        self._clients: list[httpx.AsyncClient] = []
        self._next = 0
        self.logprobs_supported: bool | None = None
        self.retries_done = 0

    @property
    def id(self) -> str:
        return f"openai/{self.model}"

    def identity(self) -> Mapping[str, Any]:
        return {"backend": "openai", "base_url": self.base_url, "model": self.model,
                "temperature": self.cfg.temperature, "samples": self.cfg.samples, "seed": self.cfg.seed}

    def max_usage(self, query: Query) -> Usage:
        """Choices: the 1-token log-probability probe only; the k sampled votes it may need
        instead are reserved (``reserve_more``) before they are sent, so a call holds no more of
        the budget than it can really spend."""
        if query.choices:
            return Usage(prompt_bytes_bound(query), 1)
        return default_max_usage(query, samples=query.samples)

    def max_requests(self, query: Query) -> int:
        return 1 if query.choices else query.samples

    def _api_key(self) -> str | None:
        return (os.environ.get(self.cfg.api_key_env) or None) if self.cfg.api_key_env else None

    def _http(self) -> httpx.AsyncClient:
        """One of ``ceil(concurrency / POOL)`` clients, in turn. httpcore's pool scans its
        waiting requests against its connections on every request and response, so one client
        with 64 connections cost labelwise 10.5 ms of CPU per call here; pools of 8 side by side
        cost 3.0 ms (bench/RESULTS.md, throughput; pools of 4 were no better)."""
        if not self._clients:
            n = max(1, -(-self.cfg.concurrency // POOL))
            per = -(-self.cfg.concurrency // n)
            limits = httpx.Limits(max_connections=per, max_keepalive_connections=per)
            self._clients = [httpx.AsyncClient(timeout=self.cfg.timeout_s, limits=limits) for _ in range(n)]
        self._next = (self._next + 1) % len(self._clients)
        return self._clients[self._next]

    def _read(self, r: httpx.Response, key: str | None) -> Answer:
        """A 200's body as an Answer, with the key redacted before anything keeps it."""
        try:
            data = r.json()
        except (ValueError, RecursionError):  # not JSON (or not UTF-8), or nested past parsing
            raise _malformed("it is not JSON", raw=redact(r.text, key)[:RAW_TEXT_LIMIT]) from None
        if key and (key in r.text or "\\u" in r.text):  # escapes could spell the key, so look inside
            data = redact(data, key)
        if _LONG_DIGITS.search(r.text):
            data = int64_safe(data)
        return read_answer(data)

    async def _post(self, payload: dict[str, Any]) -> Answer:
        url = f"{self.base_url}/chat/completions"
        key = self._api_key()
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        last = ""
        for attempt in range(self.cfg.max_retries + 1):
            wait: float | None = None
            try:
                r = await self._http().post(url, json=payload, headers=headers)
            except httpx.TimeoutException:
                last = f"timeout after {self.cfg.timeout_s}s"
            except httpx.RequestError as e:  # connection, protocol and body-decoding failures
                last = f"request failed ({type(e).__name__})"
            else:
                if r.status_code == 200:
                    return self._read(r, key)  # never retried: it was answered, so it was paid
                if r.status_code not in RETRY_STATUS:
                    raise AnnotatorError(f"{url} answered HTTP {r.status_code}: {redact(r.text, key)[:300]}")
                last = f"HTTP {r.status_code}"
                wait = retry_after_seconds(r.headers.get("retry-after"))
            if attempt == self.cfg.max_retries:
                break
            self.retries_done += 1
            backoff = random.uniform(0, min(30.0, 0.25 * 2 ** attempt))
            # a server's Retry-After is honoured, but never beyond a bound we can stand behind
            await asyncio.sleep(min(wait, max(60.0, self.cfg.timeout_s)) if wait is not None else backoff)
        raise AnnotatorError(f"{url}: giving up after {self.cfg.max_retries + 1} attempts; last error: {last}")

    async def _post_all(self, payloads: Sequence[dict[str, Any]]) -> list[Answer]:
        """Every request runs to its end before a failure is raised: none is left running behind
        the caller, and the ones answered were paid whatever happened to the others."""
        out = await asyncio.gather(*[self._post(p) for p in payloads], return_exceptions=True)
        for o in out:
            if isinstance(o, BaseException):
                raise o
        return out  # type: ignore[return-value]

    def _payload(self, query: Query, **extra: Any) -> dict[str, Any]:
        p: dict[str, Any] = {"model": self.model, "max_tokens": query.max_tokens, "seed": self.cfg.seed,
                             "messages": [{"role": m.role, "content": m.content} for m in query.messages]}
        if query.json_schema is not None:
            p["response_format"] = {"type": "json_schema",
                                    "json_schema": {"name": "answer", "schema": dict(query.json_schema)}}
        p.update(extra)
        return p

    def _scored(self, probe: Answer, choices: tuple[str, ...], t0: float) -> Response | None:
        """The choices scored from a 1-token probe; None when it gave no usable log-probabilities
        (the probe was still paid for: the caller counts it)."""
        if probe.top is None:
            self.logprobs_supported = False
            return None
        mapped = choice_logprobs_from_top(probe.top, choices)
        if mapped is None:
            return None
        self.logprobs_supported = True
        lp, floored = mapped  # {} when no choice was among the top tokens: the task says so
        return Response(text=probe.text, choice_logprobs=lp, usage=probe.usage, latency_s=time.perf_counter() - t0,
                        raw={"response": probe.data, "floored_choices": floored}, requests=1)

    async def _choose(self, query: Query, t0: float) -> Response:
        choices = query.choices or ()
        probes: list[Answer] = []
        if self.logprobs_supported is not False:
            probes.append(await self._post(self._payload(query, max_tokens=1, temperature=0.0, logprobs=True,
                                                         top_logprobs=TOP_LOGPROBS)))
            scored = self._scored(probes[0], choices, t0)
            if scored is not None:
                return scored
        k = self.cfg.samples
        try:
            await reserve_more(Usage(prompt_bytes_bound(query) * k, query.max_tokens * k), k)  # before any is sent
        except BudgetExhausted as e:  # the votes are not sent; a probe that was is the engine's to count
            if probes:
                e.paid = (probes[0].usage, 1, probes[0].data)  # type: ignore[attr-defined]
            raise
        votes = await self._post_all([self._payload(query, temperature=self.cfg.temperature, seed=self.cfg.seed + i)
                                      for i in range(k)])
        texts = tuple(a.text for a in votes)
        raw: dict[str, Any] = {"responses": [a.data for a in votes]}
        if probes:
            raw["probe"] = probes[0].data
        return Response(text=texts[0], samples=texts, usage=_sum_usage([*probes, *votes]),
                        latency_s=time.perf_counter() - t0, raw=raw, requests=len(probes) + len(votes))

    async def _generate(self, query: Query, t0: float) -> Response:
        extra = {"logprobs": True} if self.cfg.token_logprobs else {}
        first = await self._post(self._payload(query, temperature=0.0, **extra))
        if query.samples <= 1:
            return Response(text=first.text, usage=first.usage, latency_s=time.perf_counter() - t0,
                            raw={"response": first.data}, token_logprobs=first.pieces)
        more = await self._post_all([  # the greedy answer first, then samples for agreement
            self._payload(query, temperature=self.cfg.temperature or 0.7, seed=self.cfg.seed + i)
            for i in range(1, query.samples)])
        return Response(text=first.text, samples=(first.text, *(a.text for a in more)),
                        usage=_sum_usage([first, *more]), latency_s=time.perf_counter() - t0,
                        raw={"response": first.data, "samples": [a.data for a in more]},
                        token_logprobs=first.pieces, requests=1 + len(more))

    async def answer(self, query: Query) -> Response:
        """One answer; ``requests`` counts the answered (paid) requests behind it, not retries."""
        t0 = time.perf_counter()
        return await (self._choose(query, t0) if query.choices else self._generate(query, t0))

    async def aclose(self) -> None:
        clients, self._clients = self._clients, []
        for c in clients:
            await c.aclose()


register_annotator("openai")(OpenAIAnnotator)
