"""Any OpenAI-compatible chat endpoint (vLLM, llama.cpp server, Ollama, hosted APIs).

Choices are scored from the first answer token's ``top_logprobs`` where the server offers them;
otherwise ``samples`` answers are drawn and counted as votes. Retries back off with full jitter
on 429, 5xx, timeouts and broken bodies, and honour ``Retry-After``. The API key is read from the
environment at call time and only ever put in the Authorization header.
"""
from __future__ import annotations

import asyncio
import email.utils
import math
import os
import random
import time
from typing import Any, Mapping

import httpx

from ..errors import AnnotatorError, ConfigError
from ..types import Query, Response, Usage
from .base import default_max_usage, register_annotator

RETRY_STATUS = {408, 409, 425, 429, 500, 502, 503, 504}
TOP_LOGPROBS = 20


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


def _logaddexp(a: float, b: float) -> float:
    m = max(a, b)
    return m + math.log(math.exp(a - m) + math.exp(b - m))


def choice_logprobs_from_top(top: list[Mapping[str, Any]], choices: tuple[str, ...]) -> tuple[dict[str, float], list[str]] | None:
    """Map the first token's top log-probabilities onto the choices.

    Returns (logprob per choice, choices that were not in the list and got the floor), or None
    when a token is a prefix of several choices and the first token cannot tell them apart.
    """
    out: dict[str, float] = {}
    for entry in top:
        tok = str(entry.get("token", "")).strip().lower()
        if not tok:
            continue
        owners = [c for c in choices if c.lower().startswith(tok)]
        if len(owners) > 1:
            return None
        if owners:
            c = owners[0]
            out[c] = _logaddexp(out[c], float(entry["logprob"])) if c in out else float(entry["logprob"])
    if not top:
        return None
    floor = min(float(e["logprob"]) for e in top)
    floored = [c for c in choices if c not in out]
    for c in floored:
        out[c] = floor  # an upper bound: the choice ranked below everything listed
    return out, floored


class OpenAIAnnotator:
    backend = "openai"

    def __init__(self, cfg: Any) -> None:
        if not cfg.base_url:
            raise ConfigError("the openai backend needs annotator.base_url (e.g. http://127.0.0.1:8000/v1)",
                              field="annotator.base_url")
        self.cfg = cfg
        self.model = cfg.model
        self.base_url = cfg.base_url.rstrip("/")
        self._client: httpx.AsyncClient | None = None
        self.logprobs_supported: bool | None = None
        self.retries_done = 0

    @property
    def id(self) -> str:
        return f"openai/{self.model}"

    def identity(self) -> Mapping[str, Any]:
        return {"backend": "openai", "base_url": self.base_url, "model": self.model,
                "temperature": self.cfg.temperature, "samples": self.cfg.samples, "seed": self.cfg.seed}

    def max_usage(self, query: Query) -> Usage:
        # choices: a 1-token log-probability probe, then possibly k sampled votes
        return default_max_usage(query, samples=self.cfg.samples + 1 if query.choices else query.samples)

    def _headers(self) -> dict[str, str]:
        key = os.environ.get(self.cfg.api_key_env) if self.cfg.api_key_env else None
        return {"Authorization": f"Bearer {key}"} if key else {}

    def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            limits = httpx.Limits(max_connections=self.cfg.concurrency, max_keepalive_connections=self.cfg.concurrency)
            self._client = httpx.AsyncClient(timeout=self.cfg.timeout_s, limits=limits)
        return self._client

    async def _post(self, payload: dict[str, Any]) -> dict[str, Any]:
        url = f"{self.base_url}/chat/completions"
        last = ""
        for attempt in range(self.cfg.max_retries + 1):
            wait: float | None = None
            try:
                r = await self._http().post(url, json=payload, headers=self._headers())
                if r.status_code == 200:
                    try:
                        data = r.json()
                        if not isinstance(data, dict) or not data.get("choices"):
                            raise ValueError("no choices in body")
                        return data
                    except ValueError as e:
                        last = f"malformed response body ({e})"
                elif r.status_code in RETRY_STATUS:
                    last = f"HTTP {r.status_code}"
                    wait = retry_after_seconds(r.headers.get("retry-after"))
                else:
                    raise AnnotatorError(f"{url} answered HTTP {r.status_code}: {r.text[:300]}")
            except httpx.TimeoutException:
                last = f"timeout after {self.cfg.timeout_s}s"
            except httpx.RequestError as e:  # connection, protocol and body-decoding failures
                last = f"request failed ({type(e).__name__})"
            if attempt == self.cfg.max_retries:
                break
            self.retries_done += 1
            backoff = random.uniform(0, min(30.0, 0.25 * 2 ** attempt))
            # a server's Retry-After is honoured, but never beyond a bound we can stand behind
            await asyncio.sleep(min(wait, max(60.0, self.cfg.timeout_s)) if wait is not None else backoff)
        raise AnnotatorError(f"{url}: giving up after {self.cfg.max_retries + 1} attempts; last error: {last}")

    def _payload(self, query: Query, **extra: Any) -> dict[str, Any]:
        p: dict[str, Any] = {"model": self.model, "max_tokens": query.max_tokens, "seed": self.cfg.seed,
                             "messages": [{"role": m.role, "content": m.content} for m in query.messages]}
        if query.json_schema is not None:
            p["response_format"] = {"type": "json_schema",
                                    "json_schema": {"name": "answer", "schema": dict(query.json_schema)}}
        p.update(extra)
        return p

    async def _score(self, query: Query) -> tuple[Response | None, Usage]:
        """Score the choices from one 1-token answer; (None, its usage) when the server gave no
        usable log-probabilities -- that probe was still paid for and must be counted."""
        data = await self._post(self._payload(query, max_tokens=1, temperature=0.0, logprobs=True,
                                              top_logprobs=TOP_LOGPROBS))
        choice = data["choices"][0]
        content = (choice.get("logprobs") or {}).get("content") or []
        if not content or not content[0].get("top_logprobs"):
            self.logprobs_supported = False
            return None, _usage(data)
        mapped = choice_logprobs_from_top(content[0]["top_logprobs"], query.choices or ())
        if mapped is None:
            return None, _usage(data)
        self.logprobs_supported = True
        lp, floored = mapped
        raw = {"response": data, "floored_choices": floored}
        return Response(text=(choice.get("message") or {}).get("content") or "", choice_logprobs=lp,
                        usage=_usage(data), raw=raw), _usage(data)

    async def answer(self, query: Query) -> Response:
        t0 = time.perf_counter()
        probe = Usage()
        if query.choices and self.logprobs_supported is not False:
            scored, probe = await self._score(query)
            if scored is not None:
                return Response(text=scored.text, choice_logprobs=scored.choice_logprobs, usage=scored.usage,
                                latency_s=time.perf_counter() - t0, raw=scored.raw)
        if query.choices:
            datas = await asyncio.gather(*[
                self._post(self._payload(query, temperature=self.cfg.temperature, seed=self.cfg.seed + i))
                for i in range(self.cfg.samples)])
            texts = tuple((d["choices"][0].get("message") or {}).get("content") or "" for d in datas)
            usage = Usage(probe.prompt_tokens + sum(_usage(d).prompt_tokens for d in datas),
                          probe.completion_tokens + sum(_usage(d).completion_tokens for d in datas))
            return Response(text=texts[0], samples=texts, usage=usage, latency_s=time.perf_counter() - t0,
                            raw={"responses": datas})
        extra = {"logprobs": True} if self.cfg.token_logprobs else {}
        data = await self._post(self._payload(query, temperature=0.0, **extra))
        text = (data["choices"][0].get("message") or {}).get("content") or ""
        pieces = token_logprobs_of(data["choices"][0])
        if query.samples <= 1:
            return Response(text=text, usage=_usage(data), latency_s=time.perf_counter() - t0, raw={"response": data},
                            token_logprobs=pieces)
        more = await asyncio.gather(*[  # the greedy answer first, then samples for agreement
            self._post(self._payload(query, temperature=self.cfg.temperature or 0.7, seed=self.cfg.seed + i))
            for i in range(1, query.samples)])
        texts = (text, *((d["choices"][0].get("message") or {}).get("content") or "" for d in more))
        usage = Usage(sum(_usage(d).prompt_tokens for d in (data, *more)),
                      sum(_usage(d).completion_tokens for d in (data, *more)))
        return Response(text=text, samples=texts, usage=usage, latency_s=time.perf_counter() - t0,
                        raw={"response": data, "samples": list(more)}, token_logprobs=pieces)

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None


def token_logprobs_of(choice: Mapping[str, Any]) -> tuple[tuple[str, float], ...]:
    """(piece, logprob) per generated token from a chat choice's ``logprobs.content``; empty
    when the server sent none or sent something else."""
    content = (choice.get("logprobs") or {}).get("content") or []
    try:
        return tuple((str(c["token"]), float(c["logprob"])) for c in content)
    except (KeyError, TypeError, ValueError):
        return ()


def _usage(data: Mapping[str, Any]) -> Usage:
    u = data.get("usage") or {}
    return Usage(int(u.get("prompt_tokens") or 0), int(u.get("completion_tokens") or 0))


register_annotator("openai")(OpenAIAnnotator)
