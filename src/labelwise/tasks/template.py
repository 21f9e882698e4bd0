"""Prompt templates are versioned Jinja files; their hash is stored with every annotation."""
from __future__ import annotations

import hashlib
import json
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

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


class Template:
    """A loaded template: its macros and a hash of everything that shapes the prompt."""

    def __init__(self, source: str, **schema: Any) -> None:
        self.source = source
        self.macros = _compile(source)
        blob = json.dumps({"template": source, "schema": schema}, sort_keys=True, ensure_ascii=False)
        self.hash = hashlib.sha256(blob.encode()).hexdigest()
