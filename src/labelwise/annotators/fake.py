"""A scripted backend for tests and fault injection. It is never a stand-in for a real model
in a feature's proof; it exists to make failures happen on demand."""
from __future__ import annotations

import asyncio
import time
from typing import Any, Callable, Mapping

from ..types import Query, Response, Usage
from .base import default_max_usage, register_annotator

Script = Callable[[Query], "Response | str | Mapping[str, float]"]


class FakeAnnotator:
    """Answers each query with ``script(query)``: a Response, a text, or choice log-probabilities.

    ``script`` may raise to inject a failure. ``calls`` counts the queries it was asked.
    """

    backend = "fake"

    def __init__(self, script: Script, model: str = "scripted", latency_s: float = 0.0) -> None:
        self.model, self.script, self.latency_s = model, script, latency_s
        self.calls = 0

    @property
    def id(self) -> str:
        return f"fake/{self.model}"

    def identity(self) -> Mapping[str, Any]:
        return {"backend": "fake", "model": self.model}

    def max_usage(self, query: Query) -> Usage:
        return default_max_usage(query)

    async def answer(self, query: Query) -> Response:
        self.calls += 1
        t0 = time.perf_counter()
        if self.latency_s:
            await asyncio.sleep(self.latency_s)
        out = self.script(query)
        usage = Usage(sum(len(m.content.split()) for m in query.messages), 1)
        if isinstance(out, Response):
            return out
        if isinstance(out, str):
            return Response(text=out, usage=usage, latency_s=time.perf_counter() - t0)
        return Response(choice_logprobs=dict(out), usage=usage, latency_s=time.perf_counter() - t0)

    async def aclose(self) -> None:
        return None


@register_annotator("fake")
def _from_config(cfg: Any) -> FakeAnnotator:
    """``model: constant:LABEL`` always answers LABEL (for dry runs of a project's plumbing)."""
    model = cfg.model if cfg.model.startswith("constant:") else "constant:"
    label = model.split(":", 1)[1]
    return FakeAnnotator(lambda q: label or (q.choices[0] if q.choices else ""), model=model)
