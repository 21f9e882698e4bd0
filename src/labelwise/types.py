"""The plain data that flows through labelwise (frozen dataclasses, no behaviour)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping


@dataclass(frozen=True)
class Record:
    """One item to label: the task's input fields plus optional gold label and domain."""

    id: str
    fields: Mapping[str, Any]
    gold: Any = None
    domain: str | None = None
    split: str | None = None


@dataclass(frozen=True)
class Message:
    role: str  # "system" | "user" | "assistant"
    content: str


@dataclass(frozen=True)
class Query:
    """One question to a model: chat messages, and the finite choices to score if any.

    ``choices`` set => the backend returns a log-probability per choice (or votes).
    ``json_schema`` set => the backend generates constrained JSON.
    ``samples`` > 1 (generation only) => the first answer is greedy and ``samples - 1`` more are
    drawn at the annotator's temperature, so a task can measure agreement between them.
    """

    messages: tuple[Message, ...]
    choices: tuple[str, ...] | None = None
    max_tokens: int = 16
    json_schema: Mapping[str, Any] | None = None
    samples: int = 1

    def as_json(self) -> dict[str, Any]:
        out = {
            "messages": [{"role": m.role, "content": m.content} for m in self.messages],
            "choices": list(self.choices) if self.choices is not None else None,
            "max_tokens": self.max_tokens,
            "json_schema": self.json_schema,
        }
        if self.samples != 1:  # only when set, so cache keys of every other query stay as they were
            out["samples"] = self.samples
        return out


@dataclass(frozen=True)
class Usage:
    prompt_tokens: int = 0
    completion_tokens: int = 0

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


@dataclass(frozen=True)
class Response:
    """What a backend answered for one query, raw and parsed apart.

    ``choice_logprobs`` maps each choice to its log-probability where the backend scores
    choices; ``samples`` holds generated texts (one, or k votes without log-probabilities);
    ``token_logprobs`` holds (piece, log-probability) for each generated token of ``text`` where
    the backend reports them.
    """

    text: str = ""
    choice_logprobs: Mapping[str, float] | None = None
    samples: tuple[str, ...] = ()
    usage: Usage = field(default_factory=Usage)
    latency_s: float = 0.0
    raw: Mapping[str, Any] | None = None
    token_logprobs: tuple[tuple[str, float], ...] = ()
    requests: int = 1  # paid requests behind this answer (a score probe plus k sampled votes = 1 + k)

    def as_json(self, raw: bool = True) -> dict[str, Any]:
        out = {
            "text": self.text,
            "choice_logprobs": dict(self.choice_logprobs) if self.choice_logprobs is not None else None,
            "samples": list(self.samples),
            "usage": {"prompt_tokens": self.usage.prompt_tokens,
                      "completion_tokens": self.usage.completion_tokens},
            "latency_s": self.latency_s,
        }
        if self.token_logprobs:  # only when present, so stored responses without them read the same
            out["token_logprobs"] = [[p, lp] for p, lp in self.token_logprobs]
        if self.requests != 1:
            out["requests"] = self.requests
        if raw:
            out["raw"] = self.raw
        return out

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> "Response":
        u = d.get("usage") or {}
        return cls(
            text=d.get("text", ""),
            choice_logprobs=d.get("choice_logprobs"),
            samples=tuple(d.get("samples") or ()),
            usage=Usage(int(u.get("prompt_tokens", 0)), int(u.get("completion_tokens", 0))),
            latency_s=float(d.get("latency_s", 0.0)),
            raw=d.get("raw"),
            token_logprobs=tuple((str(p), float(lp)) for p, lp in d.get("token_logprobs") or ()),
            requests=int(d.get("requests", 1)),
        )


@dataclass(frozen=True)
class Labeled:
    """A task's reading of the responses for one record: a label and its distribution."""

    label: Any
    # NER: {"token_confidence": [...], "token_agreement": [...]}, one value per token
    distribution: Mapping[str, Any] | None = None


@dataclass(frozen=True)
class Annotation:
    """One stored annotation. ``call_keys`` point at the raw prompts and responses in the
    content-addressed cache (``Store.calls``), so each is stored once however often reused."""

    record_id: str
    annotator_id: str
    template_hash: str
    label: Any
    distribution: Mapping[str, float] | None
    error: str | None
    call_keys: tuple[str, ...]
    prompt_tokens: int
    completion_tokens: int
    cost: float
    latency_s: float
    repeat: int = 0
    # what the annotation answers: the full SHA-256 of its calls' cache keys (so of the record's
    # content, the prompt, the few-shot examples and every annotator parameter), the template
    # and the calibration (``engine.item_key``); None for annotations from before it existed
    item_key: str | None = None
