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


def direct_call(macro: Any, nargs: int) -> Callable[..., str]:
    """A macro to be called with ``nargs`` positional arguments, as a plain function: its
    compiled body itself, where that is exactly what ``Macro.__call__`` would run.

    A macro renders once per item on the replay path, and most of a small macro's cost is
    ``Macro.__call__`` matching arguments. Given every argument positionally, and without
    ``caller``/``varargs``/``kwargs``, autoescape or an async environment, that method only
    calls the compiled function with the same arguments. Otherwise (another argument count,
    so that defaults apply or Jinja reports the mismatch, or any of those features), and where
    a Jinja version lacks the ``Macro`` internals read here, the macro itself is returned."""
    func = getattr(macro, "_func", None)
    arguments = getattr(macro, "arguments", None)
    env = getattr(macro, "_environment", None)
    if (func is None or arguments is None or env is None or len(arguments) != nargs or env.is_async
            or macro.catch_kwargs or macro.catch_varargs or macro.caller
            or getattr(macro, "_default_autoescape", True)):
        return macro
    return func


class Template:
    """A loaded template: its macros and a hash of everything that shapes the prompt."""

    def __init__(self, source: str, **schema: Any) -> None:
        self.source = source
        self.macros = _compile(source)
        blob = json.dumps({"template": source, "schema": schema}, sort_keys=True, ensure_ascii=False)
        self.hash = hashlib.sha256(blob.encode()).hexdigest()

    def macro(self, name: str, nargs: int) -> Callable[..., str]:
        """The named macro, to be called with ``nargs`` positional arguments, as fast as the
        template allows (see ``direct_call``)."""
        return direct_call(getattr(self.macros, name), nargs)
