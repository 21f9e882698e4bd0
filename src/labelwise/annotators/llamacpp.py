"""The embedded, offline default: a GGUF model run in process by llama-cpp-python.

Choices are scored, not sampled: the chat-formatted prompt is evaluated once (its prefix kept in
the KV cache across items, so a shared system prompt and few-shot block cost nothing after the
first item), then each choice's tokens are scored from the logits, and the cache is rolled back.
Free answers are decoded greedily from the same logits, so each generated token's
log-probability comes with the text (NER turns them into per-token confidence).
"""
from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from ..errors import ItemError, LabelwiseError
from ..types import Message, Query, Response, Usage
from .base import default_max_usage, register_annotator
from .catalogue import catalogue, model_path
from .pull import sha256_of


def _log_softmax(logits: np.ndarray) -> np.ndarray:
    m = logits.max()
    return logits - (m + np.log(np.exp(logits - m).sum()))


class LlamaCppAnnotator:
    backend = "llamacpp"

    def __init__(self, cfg: Any) -> None:
        self.cfg = cfg
        self.model = cfg.model
        self._llm: Any = None
        self._format: Any = None
        self._bos_text = ""
        self._lock = threading.Lock()
        self._sha: str | None = None
        self._is_eog: Any = None  # llama_cpp's end-of-generation test, bound on load

    @property
    def id(self) -> str:
        return f"llamacpp/{Path(self.model).name if self.model.endswith('.gguf') else self.model}"

    def identity(self) -> Mapping[str, Any]:
        if self._sha is None:
            cat = catalogue()
            self._sha = cat[self.model].sha256 if self.model in cat else sha256_of(model_path(self.model))
        ident = {"backend": "llamacpp", "model_sha256": self._sha, "temperature": self.cfg.temperature,
                 "samples": self.cfg.samples, "seed": self.cfg.seed}
        if self.cfg.grammar:  # only when set, so existing cache keys stay valid
            ident["grammar"] = True
        return ident

    def max_usage(self, query: Query) -> Usage:
        return default_max_usage(query, samples=query.samples, choice_scoring=True)

    # -- loading ------------------------------------------------------------------------------
    def _load(self) -> Any:
        if self._llm is not None:
            return self._llm
        try:
            from llama_cpp import Llama
            from llama_cpp.llama_cpp import llama_vocab_is_eog
            from llama_cpp.llama_chat_format import Jinja2ChatFormatter
        except ImportError:
            raise LabelwiseError("the llamacpp backend needs llama-cpp-python: pip install 'labelwise[llamacpp]'") from None
        self._is_eog = llama_vocab_is_eog
        path = model_path(self.model)
        llm = Llama(model_path=str(path), n_ctx=self.cfg.n_ctx, n_threads=self.cfg.n_threads, n_batch=512,
                    seed=self.cfg.seed, verbose=False, logits_all=False)
        template = llm.metadata.get("tokenizer.chat_template")
        bos = llm._model.token_get_text(llm.token_bos()) if llm.token_bos() >= 0 else ""
        eos = llm._model.token_get_text(llm.token_eos()) if llm.token_eos() >= 0 else ""
        self._bos_text = bos
        if template:
            self._format = Jinja2ChatFormatter(template=template, eos_token=eos, bos_token=bos)
        self._llm = llm
        return llm

    def render(self, messages: tuple[Message, ...]) -> str:
        """The exact text the model sees: its own chat template, or a plain layout without one."""
        self._load()
        msgs = [{"role": m.role, "content": m.content} for m in messages]
        if self._format is not None:
            return self._format(messages=msgs).prompt
        parts = [f"{m['role'].capitalize()}: {m['content']}" for m in msgs]
        return "\n\n".join(parts) + "\n\nAssistant:"

    def _tokens(self, text: str) -> list[int]:
        add_bos = not (self._bos_text and text.startswith(self._bos_text))
        return self._llm.tokenize(text.encode("utf-8"), add_bos=add_bos, special=True)

    # -- scoring --------------------------------------------------------------------------------
    def _logits_after(self, tokens: list[int]) -> tuple[np.ndarray, int]:
        """Evaluate ``tokens`` reusing the longest cached prefix; return last logits, reused length."""
        llm = self._llm
        cached = llm.input_ids[: llm.n_tokens]
        n = min(len(cached), len(tokens) - 1)
        lcp = 0
        while lcp < n and cached[lcp] == tokens[lcp]:
            lcp += 1
        llm.n_tokens = lcp
        llm.eval(tokens[lcp:])
        return self._last_logits(), lcp

    def _last_logits(self) -> np.ndarray:
        ptr = self._llm._ctx.get_logits_ith(-1)
        return np.ctypeslib.as_array(ptr, shape=(self._llm.n_vocab(),)).astype(np.float64)

    def _score_sync(self, query: Query) -> Response:
        llm = self._load()
        t0 = time.perf_counter()
        prompt = self.render(query.messages)
        tokens = self._tokens(prompt)
        choice_tokens = {c: llm.tokenize(c.encode("utf-8"), add_bos=False, special=False) for c in query.choices or ()}
        longest = max((len(t) for t in choice_tokens.values()), default=0)
        if len(tokens) + longest > self.cfg.n_ctx:
            raise ItemError(f"prompt has {len(tokens)} tokens, more than annotator.n_ctx={self.cfg.n_ctx} allows")
        first, reused = self._logits_after(tokens)
        first_lp = _log_softmax(first)
        scores: dict[str, float] = {}
        evaluated = 0
        for choice, ctoks in choice_tokens.items():
            lp = float(first_lp[ctoks[0]])
            llm.n_tokens = len(tokens)
            for j in range(1, len(ctoks)):
                llm.eval([ctoks[j - 1]])
                evaluated += 1
                lp += float(_log_softmax(self._last_logits())[ctoks[j]])
            scores[choice] = lp
        llm.n_tokens = len(tokens)  # the next item reuses the prompt prefix
        usage = Usage(prompt_tokens=len(tokens), completion_tokens=sum(len(t) for t in choice_tokens.values()))
        raw = {"prompt": prompt, "prompt_tokens_reused": reused,
               "choice_tokens": {c: list(t) for c, t in choice_tokens.items()}}
        return Response(text=max(scores, key=scores.__getitem__), choice_logprobs=scores, usage=usage,
                        latency_s=time.perf_counter() - t0, raw=raw)

    def _greedy(self, tokens: list[int], max_tokens: int) -> tuple[list[int], list[float]]:
        """Greedy decoding from the logits, keeping each chosen token's log-probability (what
        ``create_completion(logprobs=...)`` could only give with ``logits_all=True``, i.e. a
        logits buffer of n_ctx x vocabulary floats)."""
        llm = self._llm
        logits, _ = self._logits_after(tokens)
        out: list[int] = []
        lps: list[float] = []
        for _ in range(max_tokens):
            tok = int(np.argmax(logits))
            if self._is_eog(llm._model.vocab, tok):
                break
            out.append(tok)
            lps.append(float(_log_softmax(logits)[tok]))
            llm.eval([tok])
            logits = self._last_logits()
        return out, lps

    def _pieces(self, ids: list[int], lps: list[float]) -> tuple[str, tuple[tuple[str, float], ...]]:
        """The text and (piece, logprob) per token; a character split across tokens (byte-level
        BPE) belongs to the token that completes it."""
        pieces, done = [], ""
        for i, lp in enumerate(lps):  # whole prefixes: single-token detokenizing can drop a leading space
            text = self._llm.detokenize(ids[: i + 1], special=False).decode("utf-8", errors="ignore")
            pieces.append((text[len(done):], lp))
            done = text
        return done, tuple(pieces)

    def _generate_sync(self, query: Query) -> Response:
        llm = self._load()
        t0 = time.perf_counter()
        msgs = [{"role": m.role, "content": m.content} for m in query.messages]
        kwargs: dict[str, Any] = {"max_tokens": query.max_tokens, "temperature": 0.0, "seed": self.cfg.seed}
        if query.json_schema is not None and self.cfg.grammar:
            kwargs["response_format"] = {"type": "json_object", "schema": dict(query.json_schema)}
            first = llm.create_chat_completion(messages=msgs, **kwargs)
            text = first["choices"][0]["message"]["content"] or ""
            u = first.get("usage") or {}
            usage = Usage(u.get("prompt_tokens", 0), u.get("completion_tokens", 0))
            raw: dict[str, Any] = {"prompt": self.render(query.messages), "response": first}
            pieces: tuple[tuple[str, float], ...] = ()
        else:  # greedy from the logits: same answer as temperature 0, plus token log-probabilities
            prompt = self.render(query.messages)
            tokens = self._tokens(prompt)
            if len(tokens) + query.max_tokens > self.cfg.n_ctx:
                raise ItemError(f"prompt has {len(tokens)} tokens; with max_tokens={query.max_tokens} that is "
                                f"more than annotator.n_ctx={self.cfg.n_ctx} allows")
            ids, lps = self._greedy(tokens, query.max_tokens)
            text, pieces = self._pieces(ids, lps)
            usage = Usage(len(tokens), len(ids))
            raw = {"prompt": prompt, "completion_tokens": ids}
        texts = [text]
        extra = []
        for i in range(1, query.samples):  # extra answers at the configured temperature, seeded
            o = llm.create_chat_completion(messages=msgs, **{
                **kwargs, "temperature": self.cfg.temperature or 0.7, "seed": self.cfg.seed + i})
            extra.append(o)
            texts.append(o["choices"][0]["message"]["content"] or "")
            u = o.get("usage") or {}
            usage = Usage(usage.prompt_tokens + u.get("prompt_tokens", 0),
                          usage.completion_tokens + u.get("completion_tokens", 0))
        if extra:
            raw["samples"] = extra
        return Response(text=text, samples=tuple(texts) if len(texts) > 1 else (), usage=usage,
                        latency_s=time.perf_counter() - t0, raw=raw, token_logprobs=pieces)

    def answer_sync(self, query: Query) -> Response:
        with self._lock:  # one context: one item at a time
            return self._score_sync(query) if query.choices else self._generate_sync(query)

    async def answer(self, query: Query) -> Response:
        return await asyncio.to_thread(self.answer_sync, query)

    async def aclose(self) -> None:
        """Nothing to release per run: the model stays loaded for the next run in this process."""

    def unload(self) -> None:
        with self._lock:
            if self._llm is not None:
                self._llm.close()
                self._llm = None


register_annotator("llamacpp")(LlamaCppAnnotator)
