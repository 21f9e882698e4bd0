"""The price table: dollars per million input/output tokens, matched by backend/model pattern."""
from __future__ import annotations

import fnmatch
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import yaml

from ..errors import ConfigError
from ..types import Usage


@dataclass(frozen=True)
class Price:
    input_per_mtok: float
    output_per_mtok: float

    def cost(self, usage: Usage) -> float:
        return (usage.prompt_tokens * self.input_per_mtok + usage.completion_tokens * self.output_per_mtok) / 1e6


class PriceTable:
    def __init__(self, rows: list[tuple[str, Price]]) -> None:
        self.rows = rows

    def price(self, backend: str, model: str) -> Price | None:
        name = f"{backend}/{model}"
        for pattern, price in self.rows:
            if fnmatch.fnmatch(name, pattern):
                return price
        return None


def load_prices(path: str | Path | None = None) -> PriceTable:
    """The packaged table, with rows from ``path`` (if given) tried first."""
    packaged = resources.files("labelwise.cost").joinpath("prices.yaml").read_text(encoding="utf-8")
    rows = _rows(yaml.safe_load(packaged), "prices.yaml")
    if path is not None:
        p = Path(path)
        if not p.exists():
            raise ConfigError("price file not found", path=str(p), field="prices")
        rows = _rows(yaml.safe_load(p.read_text(encoding="utf-8")), str(p)) + rows
    return PriceTable(rows)


def _rows(data: object, where: str) -> list[tuple[str, Price]]:
    if not isinstance(data, list):
        raise ConfigError("a price file is a list of {match, input_per_mtok, output_per_mtok}", path=where)
    out = []
    for i, row in enumerate(data):
        try:
            out.append((str(row["match"]), Price(float(row["input_per_mtok"]), float(row["output_per_mtok"]))))
        except (KeyError, TypeError, ValueError):
            raise ConfigError(f"entry {i + 1} needs match, input_per_mtok and output_per_mtok", path=where) from None
    return out
