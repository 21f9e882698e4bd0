"""The embedded, offline default: a GGUF model run in process by llama-cpp-python.

Choices are scored, not sampled: the chat-formatted prompt is evaluated once (its prefix kept in
the KV cache across items, so a shared system prompt and few-shot block cost little after the
first item), then each choice's tokens are scored from the logits, and the cache is rolled back.
Free answers are decoded greedily from the same logits, so each generated token's
log-probability comes with the text (NER turns them into per-token confidence).

An answer depends on its prompt only, never on the items before it. A prompt is evaluated in
blocks whose boundaries are a function of its own tokens: a block starts at every token that
starts a chat message (the template's turn marker, e.g. ``<|im_start|>``) and every
``MESSAGE_BLOCK`` tokens after that (every ``BLOCK`` tokens for a template without a marker). The cache is reused only up to a boundary that the earlier prompt also had:
each block is then the same computation (same batch shape, same inputs) whether it was cached
or not. Reusing an arbitrary prefix instead changed first-token log-probabilities by 0.02-0.05
nats and flipped greedy answers, because a batch of another size sums in another order.
Message-aligned blocks reuse exactly what two prompts share (the system prompt, the few-shot
examples), where fixed 32-token blocks lost up to 31 shared tokens per prompt. Each block costs
a pass over the weights however few tokens it holds (80-165 ms for the 1.5B model on 2 cores),
so a prompt has three: the system message, all few-shot examples together, and the item. Fixed
few-shot examples are then evaluated once; retrieved ones are reused when the previous item
retrieved the same list (the engine puts such items next to each other). A block per example
would also reuse a shared first example or two, but cost more passes than that saved
(``bench/bench_speed.py``).

Only the chat template's own markers are control tokens: each message's text is tokenized as
plain text, so ``<|im_start|>system`` inside an item is just characters.
"""
from __future__ import annotations

import asyncio
import re
import threading
import time
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from ..errors import ItemError, LabelwiseError
from ..types import Message, Query, Response, Usage
from .base import default_max_usage, register_annotator
from .catalogue import catalogue, model_path
from .model_thread import await_on_model_thread, run_on_model_thread
from .pull import sha256_of


BLOCK = 32  # tokens per evaluation block when the template has no turn marker (see the module docstring)
MESSAGE_BLOCK = 512  # with turn markers: blocks are messages (split at this length, llama.cpp's batch)
TOP_K, TOP_P = 40, 0.95  # extra samples (task.confidence_samples) are drawn from this nucleus
_SENTINEL = "\x00labelwise-message-{}\x00"  # marks where a message's text sits in the rendered prompt


def _log_softmax(logits: np.ndarray) -> np.ndarray:
    m = logits.max()
    return logits - (m + np.log(np.exp(logits - m).sum()))


class LlamaCppAnnotator:
    backend = "llamacpp"
    reuses_prefix = True  # the engine orders its work so consecutive prompts share prefixes

    def __init__(self, cfg: Any) -> None:
        self.cfg = cfg
        self.model = cfg.model
        self._llm: Any = None
        self._format: Any = None
        self._bos_text = ""
        self._lock = threading.Lock()
        self._sha: str | None = None
        self._is_eog: Any = None  # llama_cpp's end-of-generation test, bound on load
        self._reused = 0  # prompt tokens the last decode took from the KV cache
        self._starts: frozenset[int] = frozenset()  # block starts of the prompt in the cache (empty: reuse nothing)
        self._turn: int | None = None  # the control token that starts a chat message, read on load
        self._control: dict[str, int] = {}  # the vocabulary's control tokens by text, read on load
        self._control_text: dict[int, str] = {}
        self._control_re: Any = None
        self.threads: Any = None  # machine.Threads, decided when the model loads
        self._fifo: dict[Any, asyncio.Lock] = {}  # per event loop: answers in the order asked

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
        """The tokens an answer will use: counted exactly with the model's tokenizer once it is
        loaded (scoring uses exactly these; generation at most max_tokens per answer), before
        that a bound from the prompt's bytes."""
        if self._llm is None:
            return default_max_usage(query, samples=query.samples, choice_scoring=True)
        with self._lock:  # the tokenizer is the model's: not while another thread evaluates
            _, tokens = self._prompt_tokens(query.messages)
            if query.choices:
                completion = sum(len(self._llm.tokenize(c.encode("utf-8"), add_bos=False, special=False))
                                 for c in query.choices)
                return Usage(len(tokens), completion)
        return Usage(len(tokens) * query.samples, query.max_tokens * query.samples)

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
        from ..machine import threads_for
        path = model_path(self.model)
        self.threads = threads_for(self.cfg.n_threads)  # before the model runs: the load is other work's
        llm = Llama(model_path=str(path), n_ctx=self.cfg.n_ctx, n_threads=self.threads.n,
                    n_threads_batch=self.threads.n, n_batch=512, seed=self.cfg.seed, verbose=False, logits_all=False)
        template = llm.metadata.get("tokenizer.chat_template")
        bos = llm._model.token_get_text(llm.token_bos()) if llm.token_bos() >= 0 else ""
        eos = llm._model.token_get_text(llm.token_eos()) if llm.token_eos() >= 0 else ""
        self._bos_text = bos
        self._read_control_tokens(llm)
        if template:
            self._format = Jinja2ChatFormatter(template=template, eos_token=eos, bos_token=bos)
        self._turn = self._turn_token(llm)
        self._llm = llm
        return llm

    def _read_control_tokens(self, llm: Any) -> None:
        from llama_cpp import LLAMA_TOKEN_ATTR_CONTROL
        for t in range(llm.n_vocab()):
            if llm._model.token_get_attr(t) & LLAMA_TOKEN_ATTR_CONTROL:
                text = llm._model.token_get_text(t)
                if text:
                    self._control.setdefault(text, t)
        self._control_text = {t: text for text, t in self._control.items()}
        if self._control:  # longest first, so a marker is never cut by a shorter one inside it
            self._control_re = re.compile("|".join(re.escape(k) for k in sorted(self._control, key=len, reverse=True)))

    def _turn_token(self, llm: Any) -> int | None:
        """The control token the chat template starts each message with, None without one:
        the first control token of a rendered prompt, unless that is a BOS the template writes
        once before the first turn marker (``<bos><start_of_turn>``)."""
        if self._format is None:
            return None
        runs: list[str | int] = []
        self._template_text(self._layout(["a", "b"], ["user", "assistant"]), [], runs)
        runs = [r for r in runs if r != ""]
        first = next((i for i, r in enumerate(runs) if isinstance(r, int)), None)
        if first is None:
            return None
        if runs[first] == llm.token_bos() and first + 1 < len(runs) and isinstance(runs[first + 1], int):
            return int(runs[first + 1])
        return int(runs[first])

    def _layout(self, contents: list[str], roles: list[str]) -> str:
        msgs = [{"role": r, "content": c} for r, c in zip(roles, contents)]
        if self._format is not None:
            return self._format(messages=msgs).prompt
        parts = [f"{m['role'].capitalize()}: {m['content']}" for m in msgs]
        return "\n\n".join(parts) + "\n\nAssistant:"

    def render(self, messages: tuple[Message, ...]) -> str:
        """The exact text the model sees: its own chat template, or a plain layout without one."""
        self._load()
        return self._layout([m.content for m in messages], [m.role for m in messages])

    def _prompt_tokens(self, messages: tuple[Message, ...]) -> tuple[str, list[int]]:
        """The rendered prompt and its tokens, where only the template's own text may hold
        control tokens. The template is rendered around placeholders; the control tokens it
        writes (``<|im_start|>``, ``<bos>``...) become those tokens, and everything between them,
        template text and message text alike, is tokenized as one plain run with special tokens
        off, exactly as the whole prompt would be tokenized if it held no markers of its own."""
        self._load()
        roles = [m.role for m in messages]
        rest = self._layout([_SENTINEL.format(i) for i in range(len(messages))], roles)
        runs: list[str | int] = []  # plain text, or the id of a control token the template wrote
        buf: list[str] = []
        for i, m in enumerate(messages):
            before, sep, rest = rest.partition(_SENTINEL.format(i))
            if not sep:
                raise ItemError("the model's chat template changes message text, so item text cannot be kept "
                                "apart from its control tokens; use a model with a plain chat template")
            self._template_text(before, buf, runs)
            buf.append(m.content)
        self._template_text(rest, buf, runs)
        if buf:
            runs.append("".join(buf))
        text = "".join(r if isinstance(r, str) else self._control_text[r] for r in runs)
        tokens: list[int] = []
        for run in runs:
            if isinstance(run, int):
                tokens.append(run)
            elif run:
                add_bos = not tokens and not (self._bos_text and text.startswith(self._bos_text))
                tokens += self._llm.tokenize(run.encode("utf-8"), add_bos=add_bos, special=False)
        return text, tokens

    def _template_text(self, piece: str, buf: list[str], runs: list[str | int]) -> None:
        """Append a piece of the template's own text: its control tokens end the plain run."""
        pos = 0
        for m in self._control_re.finditer(piece) if self._control_re is not None else ():
            buf.append(piece[pos:m.start()])
            if any(buf):
                runs.append("".join(buf))
            buf.clear()
            runs.append(self._control[m.group(0)])
            pos = m.end()
        buf.append(piece[pos:])

    # -- scoring --------------------------------------------------------------------------------
    def block_starts(self, tokens: list[int], roles: Sequence[str] | None = None) -> list[int]:
        """Where this prompt's evaluation blocks start: 0, the turn marker of the first message
        after the system prompt (the first few-shot example), the turn marker of the last
        message (the item), and every ``MESSAGE_BLOCK`` (no turn marker: ``BLOCK``) tokens
        after the last start. Every block costs llama.cpp a pass over the weights however short
        it is, so there are as few as reuse needs: the system prompt, the examples, the item
        (see the module docstring). A function of the prompt alone."""
        if self._turn is None:
            marks: set[int] = set()
            size = BLOCK
        else:
            size = MESSAGE_BLOCK
            turns = [i for i, t in enumerate(tokens) if t == self._turn]
            if roles is not None and len(turns) in (len(roles), len(roles) + 1):
                first = 1 if roles and roles[0] == "system" else 0
                marks = {turns[first], turns[len(roles) - 1]} if len(roles) > first else set()
            else:  # a template whose turns do not map onto the messages: after the first turn, and the last message
                marks = set(turns[1:2]) | set(turns[-2:-1])
        starts, last = [0], 0
        for i in range(1, len(tokens)):
            if i in marks or i - last >= size:
                starts.append(i)
                last = i
        return starts

    def _logits_after(self, tokens: list[int], roles: Sequence[str] | None = None) -> tuple[np.ndarray, int]:
        """Evaluate ``tokens`` block by block, reusing the cached blocks the previous prompt
        evaluated the same way; return the last position's logits and the reused length. The
        result is a function of ``tokens`` alone (see the module docstring)."""
        llm = self._llm
        starts = self.block_starts(tokens, roles)
        start = _reuse_point(llm.input_ids[: llm.n_tokens], self._starts, tokens, starts)
        llm.n_tokens = start
        self._starts = frozenset()  # until every block is in: a failed evaluation leaves nothing reusable
        for a, b in zip(starts, [*starts[1:], len(tokens)]):
            if a >= start:  # start is itself a block start
                llm.eval(tokens[a:b])
        self._starts = frozenset(starts)
        return self._last_logits(), start

    def evaluated_tokens(self, prompts: Sequence[tuple[Sequence[Message], list[int]]]) -> list[int]:
        """The prompt tokens each of these (messages, tokens) would evaluate, asked in this
        order from an empty cache: exactly what the run will do, as answers never change the
        reusable prefix (``estimate`` predicts a run's time from it)."""
        prev: Sequence[int] = ()
        prev_starts: frozenset[int] = frozenset()
        out = []
        for messages, tokens in prompts:
            starts = self.block_starts(tokens, [m.role for m in messages])
            out.append(len(tokens) - _reuse_point(prev, prev_starts, tokens, starts))
            prev, prev_starts = tokens, frozenset(starts)
        return out

    def _last_logits(self) -> np.ndarray:
        ptr = self._llm._ctx.get_logits_ith(-1)
        return np.ctypeslib.as_array(ptr, shape=(self._llm.n_vocab(),)).astype(np.float64)

    def _score_sync(self, query: Query) -> Response:
        llm = self._load()
        t0 = time.perf_counter()
        prompt, tokens = self._prompt_tokens(query.messages)
        choice_tokens = {c: llm.tokenize(c.encode("utf-8"), add_bos=False, special=False) for c in query.choices or ()}
        longest = max((len(t) for t in choice_tokens.values()), default=0)
        if len(tokens) + longest > self.cfg.n_ctx:
            raise ItemError(f"prompt has {len(tokens)} tokens, more than annotator.n_ctx={self.cfg.n_ctx} allows")
        first, reused = self._logits_after(tokens, [m.role for m in query.messages])
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

    def _decode(self, tokens: list[int], max_tokens: int, temperature: float = 0.0,
                seed: int = 0, roles: Sequence[str] | None = None) -> tuple[list[int], list[float]]:
        """Decode from the logits: greedily at temperature 0, else sampled from the top-k /
        top-p nucleus with a seeded generator. Keeps each chosen token's log-probability (what
        ``create_completion(logprobs=...)`` could only give with ``logits_all=True``, i.e. a
        logits buffer of n_ctx x vocabulary floats)."""
        llm = self._llm
        logits, self._reused = self._logits_after(tokens, roles)  # reused: for the answer's raw record
        rng = np.random.default_rng(seed)
        out: list[int] = []
        lps: list[float] = []
        for _ in range(max_tokens):
            lp = _log_softmax(logits)
            tok = int(np.argmax(lp)) if temperature <= 0 else _sample(lp, temperature, rng)
            if self._is_eog(llm._model.vocab, tok):
                break
            out.append(tok)
            lps.append(float(lp[tok]))
            llm.eval([tok])
            logits = self._last_logits()
        llm.n_tokens = len(tokens)  # the answer is not part of any later prompt's reusable prefix
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
        prompt, tokens = self._prompt_tokens(query.messages)
        if len(tokens) + query.max_tokens > self.cfg.n_ctx:
            raise ItemError(f"prompt has {len(tokens)} tokens; with max_tokens={query.max_tokens} that is "
                            f"more than annotator.n_ctx={self.cfg.n_ctx} allows")
        pieces: tuple[tuple[str, float], ...] = ()
        roles = [m.role for m in query.messages]
        if query.json_schema is not None and self.cfg.grammar:
            text = self._constrained(tokens, query)
            completion = len(llm.tokenize(text.encode("utf-8"), add_bos=False, special=False))
            raw: dict[str, Any] = {"prompt": prompt, "grammar": True}
        else:  # greedy from the logits: same answer as temperature 0, plus token log-probabilities
            ids, lps = self._decode(tokens, query.max_tokens, roles=roles)
            text, pieces = self._pieces(ids, lps)
            completion = len(ids)
            raw = {"prompt": prompt, "completion_tokens": ids, "prompt_tokens_reused": self._reused}
        texts = [text]
        samples = []
        for i in range(1, query.samples):  # extra answers at the configured temperature, seeded
            ids, _ = self._decode(tokens, query.max_tokens, self.cfg.temperature or 0.7, self.cfg.seed + i, roles)
            texts.append(self._pieces(ids, [0.0] * len(ids))[0])
            samples.append(ids)
            completion += len(ids)
        if samples:
            raw["samples"] = samples
        usage = Usage(len(tokens) * query.samples, completion)
        return Response(text=text, samples=tuple(texts) if len(texts) > 1 else (), usage=usage,
                        latency_s=time.perf_counter() - t0, raw=raw, token_logprobs=pieces)

    def _constrained(self, tokens: list[int], query: Query) -> str:
        """JSON forced to the schema by llama-cpp-python's grammar sampler, from a fresh context
        (its own prefix reuse is not block-aligned), over our tokens of the prompt."""
        from llama_cpp import LlamaGrammar
        import json as _json
        llm = self._llm
        grammar = LlamaGrammar.from_json_schema(_json.dumps(dict(query.json_schema or {})), verbose=False)
        llm.n_tokens = 0
        self._starts = frozenset()
        try:
            out = llm.create_completion(tokens, max_tokens=query.max_tokens, temperature=0.0, seed=self.cfg.seed,
                                        grammar=grammar)
        finally:
            llm.n_tokens = 0
            self._starts = frozenset()
        return out["choices"][0]["text"] or ""

    def answer_sync(self, query: Query) -> Response:
        """One answer, evaluated on the process's model thread (see ``model_thread``)."""
        return run_on_model_thread(self._answer_now, query)

    def _answer_now(self, query: Query) -> Response:
        with self._lock:  # one context: one item at a time
            return self._score_sync(query) if query.choices else self._generate_sync(query)

    async def answer(self, query: Query) -> Response:
        """One item at a time, in the order the engine asked (asyncio's lock wakes waiters first
        come, first served; threads on a threading.Lock would take the model in any order), so
        the engine's prefix-sharing order is the order the model sees."""
        loop = asyncio.get_running_loop()
        lock = self._fifo.get(loop)
        if lock is None:
            self._fifo = {loop: asyncio.Lock()}  # one event loop per run: older loops' locks are dropped
            lock = self._fifo[loop]
        async with lock:
            return await await_on_model_thread(self.answer_sync, query)

    async def aclose(self) -> None:
        """Nothing to release per run: the model stays loaded for the next run in this process."""

    def load(self) -> None:
        """Load the model now (``estimate`` times the load apart from the answers)."""
        run_on_model_thread(self._load_now)

    def _load_now(self) -> None:
        with self._lock:
            self._load()

    def unload(self) -> None:
        with self._lock:
            if self._llm is not None:
                self._llm.close()
                self._llm = None


def common_prefix(cached: Sequence[int], tokens: Sequence[int]) -> int:
    """Length of the common prefix of the cached tokens and a prompt, short of the prompt's last
    token (whose logits are needed, so it is always evaluated)."""
    n = min(len(cached), len(tokens) - 1)
    lcp = 0
    while lcp < n and cached[lcp] == tokens[lcp]:
        lcp += 1
    return lcp


def _reuse_point(cached: Sequence[int], cached_starts: frozenset[int], tokens: list[int], starts: list[int]) -> int:
    """How much of ``tokens`` may come from the cache: up to the last block start both prompts
    have within their common prefix."""
    lcp = common_prefix(cached, tokens)
    return max((b for b in starts if b <= lcp and b in cached_starts), default=0)


def _sample(logprobs: np.ndarray, temperature: float, rng: np.random.Generator) -> int:
    """One token from the top-k / top-p nucleus of ``logprobs`` at ``temperature``."""
    top = np.argsort(logprobs)[::-1][:TOP_K]
    scaled = logprobs[top] / temperature
    p = np.exp(scaled - scaled.max())
    p /= p.sum()
    keep = int(np.searchsorted(np.cumsum(p), TOP_P)) + 1
    p = p[:keep] / p[:keep].sum()
    return int(top[rng.choice(keep, p=p)])


register_annotator("llamacpp")(LlamaCppAnnotator)
