"""The model catalogue: packaged GGUF models by name, and where pulled models live on disk."""
from __future__ import annotations

import os
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import yaml

from ..errors import ModelNotFound

DEFAULT_MODEL = "qwen2.5-coder-1.5b-instruct"
TEST_MODEL = "smollm2-135m-instruct"


@dataclass(frozen=True)
class CatalogueEntry:
    name: str
    description: str
    license: str
    sha256: str
    package_pattern: str
    version: str
    parts: int
    member: str

    def package_names(self) -> list[str]:
        if self.parts == 1 and "{i}" not in self.package_pattern:
            return [self.package_pattern]
        return [self.package_pattern.format(i=i) for i in range(1, self.parts + 1)]


def catalogue() -> dict[str, CatalogueEntry]:
    data = yaml.safe_load(resources.files("labelwise.annotators").joinpath("catalogue.yaml").read_text())
    return {name: CatalogueEntry(name=name, description=e["description"], license=e["license"],
                                 sha256=e["sha256"], package_pattern=e["packages"]["name"],
                                 version=e["packages"]["version"], parts=int(e["packages"]["parts"]),
                                 member=e["member"]) for name, e in data.items()}


def models_dir() -> Path:
    """Where pulled models are kept: $LABELWISE_MODELS_DIR or ~/.cache/labelwise/models."""
    return Path(os.environ.get("LABELWISE_MODELS_DIR", Path.home() / ".cache" / "labelwise" / "models"))


def model_path(name_or_path: str) -> Path:
    """The local GGUF file for a catalogue name or a path; a clear error when it is missing."""
    p = Path(name_or_path).expanduser()
    if p.suffix == ".gguf" or p.exists():
        if not p.exists():
            raise ModelNotFound(f"model file {p} does not exist")
        return p
    cat = catalogue()
    if name_or_path not in cat:
        raise ModelNotFound(f"unknown model '{name_or_path}'; known: {', '.join(cat)}, or give a .gguf path")
    local = models_dir() / f"{name_or_path}.gguf"
    if not local.exists():
        raise ModelNotFound(f"model '{name_or_path}' is not on this machine; run: labelwise models pull {name_or_path}")
    return local
