"""One OS thread for all in-process llama.cpp work.

llama.cpp (as llama-cpp-python builds it) parallelises with OpenMP, and OpenMP gives every
thread that starts parallel work its own team of worker threads, which live as long as that
thread. Two teams on a 2-core machine are more threads than cores, and libgomp then stops
spinning at its barriers and sleeps in the kernel instead, at every one of the graph's
hundreds of barriers per token: measured here, 68.6 ms per generated token with one team and
93.2 ms once a second llama.cpp model had run on another thread (OMP_WAIT_POLICY=passive: 96).
Running two models from the same thread cost nothing (79.7 vs 80.0).

So every model in the process (every ``LlamaCppAnnotator``, a bench's raw llama-cpp-python
loop) evaluates on this one long-lived thread, whichever event loop or thread asks: a new
``asyncio.run`` per ``Project.run`` would otherwise start its own default executor thread, and
each of them its own team.
"""
from __future__ import annotations

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable, TypeVar

T = TypeVar("T")
NAME = "labelwise-llama"

_executor: ThreadPoolExecutor | None = None
_guard = threading.Lock()


def _the_executor() -> ThreadPoolExecutor:
    global _executor
    with _guard:
        if _executor is None:  # made on first use, never at import
            _executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=NAME)
        return _executor


def on_model_thread() -> bool:
    return threading.current_thread().name.startswith(NAME)


def run_on_model_thread(fn: Callable[..., T], *args: Any) -> T:
    """``fn(*args)`` on the model thread, waiting for its result (inline when already there)."""
    if on_model_thread():
        return fn(*args)
    return _the_executor().submit(fn, *args).result()


async def await_on_model_thread(fn: Callable[..., T], *args: Any) -> T:
    """The same from a coroutine: the event loop keeps running while the model works."""
    if on_model_thread():
        return fn(*args)
    return await asyncio.wrap_future(_the_executor().submit(fn, *args))
