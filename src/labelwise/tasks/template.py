"""Prompt templates are versioned Jinja files; their hash is stored with every annotation."""
from __future__ import annotations

import hashlib
import json
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any, Callable

import jinja2

_ENV = jinja2.Environment(undefined=jinja2.StrictUndefined, keep_trailing_newline=False, autoescape=False)


@lru_cache(maxsize=32)
def _compile(source: str) -> Any:
    return _ENV.from_string(source).module


def load_template_source(name_or_path: str) -> str:
    """A packaged template by file name (``classify.v1.j2``) or any file path."""
    p = Path(name_or_path)
    if p.exists():
        return p.read_text(encoding="utf-8")
    return resources.files("labelwise.tasks").joinpath("templates", name_or_path).read_text(encoding="utf-8")


def direct_call(macro: Any) -> Callable[..., str]:
    """A macro as a plain function: the compiled body called straight, where that is exactly
    what ``Macro.__call__`` would do.

    A macro renders once per item on the replay path, and most of a small macro's cost is
    ``Macro.__call__`` matching arguments. With every argument given positionally, no
    ``caller``/``varargs``/``kwargs``, no autoescape and a sync environment, that method only
    calls the compiled function with the same arguments; any other call (fewer arguments, so
    defaults apply, or keywords) goes through the macro as before."""
    func = getattr(macro, "_func", None)
    arguments = getattr(macro, "arguments", None)
    env = getattr(macro, "_environment", None)
    if (func is None or arguments is None or env is None or env.is_async or macro.catch_kwargs
            or macro.catch_varargs or macro.caller or getattr(macro, "_default_autoescape", True)):
        return macro
    n = len(arguments)

    def call(*args: Any, **kwargs: Any) -> str:
        return func(*args) if len(args) == n and not kwargs else macro(*args, **kwargs)

    return call


class Template:
    """A loaded template: its macros and a hash of everything that shapes the prompt."""

    def __init__(self, source: str, **schema: Any) -> None:
        self.source = source
        self.macros = _compile(source)
        blob = json.dumps({"template": source, "schema": schema}, sort_keys=True, ensure_ascii=False)
        self.hash = hashlib.sha256(blob.encode()).hexdigest()

    def macro(self, name: str) -> Callable[..., str]:
        """The named macro, callable as fast as the template allows (see ``direct_call``)."""
        return direct_call(getattr(self.macros, name))
