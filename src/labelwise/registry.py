"""One registry shape for every plugin kind (tasks, annotators, strategies, small models):
register a factory under a name, look it up with an error that lists the names known."""
from __future__ import annotations

from typing import Callable, TypeVar

from .errors import ConfigError

F = TypeVar("F", bound=Callable[..., object])


class Registry(dict[str, Callable[..., object]]):
    """A name -> factory mapping; a plain dict to read, with checked registration and look-up."""

    def __init__(self, what: str, field: str | None = None) -> None:
        super().__init__()
        self.what, self.field = what, field

    def register(self, name: str) -> Callable[[F], F]:
        def deco(factory: F) -> F:
            if name in self and self[name] is not factory:
                raise ValueError(f"{self.what} name '{name}' is already registered")
            self[name] = factory
            return factory
        return deco

    def get_factory(self, name: str) -> Callable[..., object]:
        if name not in self:
            raise ConfigError(f"unknown {self.what} '{name}'; choose one of {', '.join(sorted(self))}",
                              field=self.field)
        return self[name]
