"""Task kinds as bundles: everything one kind brings, registered in one place.

A kind is its pure task class (``register_task``) plus a ``TaskKind``: how its labels are
checked in the config, the active-learning loop's adapter for it (default small model,
strategy and metric live there), how `labelwise eval` shows its metrics, the metric names
reports use, and the starter `labelwise init --task KIND` writes. The rest of labelwise asks
``task_kind(name)`` and never switches on a kind's name, so a new kind is one module that
registers both, listed in ``BUILTIN_TASK_MODULES`` or published under the
``labelwise.task_kinds`` entry-point group by another package.

Parts that import heavy libraries (the loop adapter, the display) are named by dotted path and
imported only when used: reading a config imports no numpy.
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import Any, Mapping

from ..errors import ConfigError

BUILTIN_TASK_MODULES = ("labelwise.tasks.classification", "labelwise.tasks.multilabel", "labelwise.tasks.ner",
                        "labelwise.tasks.relevance")
ENTRY_POINT_GROUP = "labelwise.task_kinds"


def load_object(path: str) -> Any:
    """``"package.module:attr"`` -> the attribute."""
    module, _, attr = path.partition(":")
    return getattr(importlib.import_module(module), attr)


@dataclass(frozen=True)
class Starter:
    """What `labelwise init --task KIND` writes: a config template and bundled data files."""

    template: str                 # dotted path to the config text
    files: tuple[str, ...]        # names under labelwise/demo_data
    about: str                    # one phrase for --help: what the sample is


@dataclass(frozen=True)
class TaskKind:
    name: str
    rounds: str = "labelwise.loop_models:ClassifierRounds"
    display: str = "labelwise.cli.eval_display:show_classification"
    metric_names: Mapping[str, str] = field(default_factory=lambda: {"accuracy": "accuracy"})
    min_labels: int = 2           # labels the config must name (NER: entity types, one is enough)
    labels_are: str = "labels"    # what the config's `labels` are called in messages
    starter: Starter | None = None
    default_labels: Mapping[str, str] | None = None  # used when the config names none (relevance grades)
    two_texts: bool = False       # records are pairs: the config must name task.text_pair_field

    def check_labels(self, labels: Mapping[str, Any]) -> dict[str, str]:
        if not labels and self.default_labels:
            return dict(self.default_labels)
        if len(labels) < self.min_labels:
            raise ValueError(f"name at least {'two' if self.min_labels == 2 else self.min_labels} {self.labels_are} "
                             "(name: description)" if self.min_labels > 1 else
                             f"name the {self.labels_are} (name: description)")
        return {str(k): str(d or "") for k, d in labels.items()}

    def rounds_class(self) -> type:
        return load_object(self.rounds)

    def show(self, metrics: dict[str, Any], console: Any) -> None:
        load_object(self.display)(metrics, console)


_KINDS: dict[str, TaskKind] = {}
_loaded = False


def register_kind(kind: TaskKind) -> TaskKind:
    if kind.name in _KINDS and _KINDS[kind.name] != kind:
        raise ValueError(f"task kind '{kind.name}' is already registered")
    _KINDS[kind.name] = kind
    return kind


def task_kinds() -> dict[str, TaskKind]:
    """Every kind: the built-in modules, then any package's ``labelwise.task_kinds`` entry points
    (each names a module that registers its kind when imported)."""
    global _loaded
    if not _loaded:
        _loaded = True
        for module in BUILTIN_TASK_MODULES:
            importlib.import_module(module)
        from importlib.metadata import entry_points
        for ep in entry_points(group=ENTRY_POINT_GROUP):
            importlib.import_module(ep.value.partition(":")[0])
    return _KINDS


def task_kind(name: str) -> TaskKind:
    kinds = task_kinds()
    if name not in kinds:
        raise ConfigError(f"unknown task kind '{name}'; choose one of {', '.join(sorted(kinds))}", field="task.kind")
    return kinds[name]


def metric_names() -> dict[str, str]:
    """Display names of every kind's headline metrics (for reports)."""
    out: dict[str, str] = {}
    for k in task_kinds().values():
        out.update(k.metric_names)
    return out
