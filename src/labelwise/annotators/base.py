"""The one narrow protocol every LLM backend speaks, and the backend registry.

Nothing outside ``annotators/`` knows which backend it talks to: the engine builds one with
:func:`make_annotator` and only calls ``answer``.
"""
from __future__ import annotations

import contextvars
from typing import Any, Awaitable, Callable, Mapping, Protocol

from ..registry import Registry
from ..types import Query, Response, Usage


class Annotator(Protocol):
    backend: str
    model: str

    @property
    def id(self) -> str: ...

    def identity(self) -> Mapping[str, Any]:
        """Everything that shapes an answer (backend, model, parameters): the cache key's part."""
        ...

    def max_usage(self, query: Query) -> Usage:
        """An upper bound on the tokens one answer can use (reserved from the budget first)."""
        ...

    async def answer(self, query: Query) -> Response: ...

    async def aclose(self) -> None: ...


def prompt_bytes_bound(query: Query) -> int:
    """Tokens never outnumber UTF-8 bytes in byte-level BPE; add room for chat-template tokens."""
    return sum(len(m.content.encode("utf-8")) + 16 for m in query.messages) + 64


def default_max_usage(query: Query, samples: int = 1, choice_scoring: bool = False) -> Usage:
    if choice_scoring and query.choices:
        completion = sum(len(c.encode("utf-8")) + 1 for c in query.choices)
        return Usage(prompt_bytes_bound(query) * (1 if samples == 1 else samples), completion)
    return Usage(prompt_bytes_bound(query) * samples, query.max_tokens * samples)


# Set by the engine around each ``answer``: reserves more of the budget for that same call.
_RESERVE_MORE: contextvars.ContextVar[Callable[[Usage, int], Awaitable[None]] | None] = \
    contextvars.ContextVar("labelwise_reserve_more", default=None)


async def reserve_more(usage: Usage, requests: int) -> None:
    """Call before an answer sends paid requests beyond what ``max_usage`` / ``max_requests``
    bounded (e.g. sampled votes after a log-probability probe found none). Raises
    ``BudgetExhausted`` when they would not fit; outside the engine it does nothing. So a
    reservation bounds what is really sent, not every path an answer might take."""
    fn = _RESERVE_MORE.get()
    if fn is not None:
        await fn(usage, requests)


ANNOTATORS = Registry("annotator backend", field="annotator.backend")
register_annotator = ANNOTATORS.register


def make_annotator(cfg: Any) -> Annotator:
    """Build the backend named by ``cfg.backend`` (an AnnotatorConfig). Loads nothing yet."""
    from . import fake, llamacpp, openai  # noqa: F401  (registration)
    return ANNOTATORS.get_factory(cfg.backend)(cfg)  # type: ignore[return-value]
