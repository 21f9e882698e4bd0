"""Project config: a pydantic model read from ``labelwise.yaml``; unknown keys are rejected.

Validation errors name the file, the line and the dotted field, e.g.
``labelwise.yaml:12 (field 'annotator.concurency'): unknown key``.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator, model_validator

from .errors import ConfigError

CONFIG_NAME = "labelwise.yaml"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TaskConfig(_Strict):
    kind: str = "classification"
    instructions: str = ""
    labels: dict[str, str] = Field(default_factory=dict)
    text_field: str = "text"
    text_pair_field: str | None = None
    template: str | None = None  # a template file; default: the task kind's packaged template
    confidence_samples: int = Field(default=1, ge=1, le=32, description=(
        "ner: answers per sentence; above 1, extra answers are sampled and each token's confidence "
        "is the share of answers that agree with the first (greedy) one"))

    @field_validator("labels")
    @classmethod
    def _labels_present(cls, v: dict[str, str], info: ValidationInfo) -> dict[str, str]:
        if info.data.get("kind") == "ner":
            if not v:
                raise ValueError("name the entity types (type: description)")
        elif len(v) < 2:
            raise ValueError("name at least two labels (label: description)")
        return {str(k): str(d or "") for k, d in v.items()}


class DataConfig(_Strict):
    path: str
    format: Literal["auto", "csv", "jsonl", "parquet", "conll"] = "auto"
    id_field: str | None = None
    label_field: str | None = None
    label_map: dict[str, str] = Field(default_factory=dict)
    domain_field: str | None = None
    split_field: str | None = None
    limit: int | None = Field(default=None, ge=1)

    @field_validator("label_map", mode="before")
    @classmethod
    def _str_keys(cls, v: Any) -> Any:
        return {str(k): str(val) for k, val in v.items()} if isinstance(v, dict) else v


class AnnotatorConfig(_Strict):
    backend: str = "llamacpp"
    model: str = "qwen2.5-coder-1.5b-instruct"
    base_url: str | None = None
    api_key_env: str | None = None
    concurrency: int = Field(default=8, ge=1, le=1024)
    max_retries: int = Field(default=5, ge=0)
    timeout_s: float = Field(default=60.0, gt=0)
    samples: int = Field(default=5, ge=1, description="votes per item when a backend has no log-probabilities")
    temperature: float = Field(default=0.7, ge=0)
    calibrate: bool = False
    n_ctx: int = Field(default=2048, ge=256)
    n_threads: int | None = None
    seed: int = 0
    grammar: bool = Field(default=False, description=(
        "llamacpp: force generated JSON (NER) to the task's schema with a grammar. Exact, but "
        "llama-cpp-python checks the grammar against the whole vocabulary at every token, which "
        "made answers 3-7x slower here; off, the prompt asks for the JSON and an answer that is "
        "not valid is stored as an error"))
    token_logprobs: bool = Field(default=False, description=(
        "openai: ask the server for log-probabilities of generated tokens (NER per-token "
        "confidence); off by default because some servers refuse the parameter. The embedded "
        "llamacpp backend always has them"))


class FewShotConfig(_Strict):
    mode: Literal["none", "fixed", "random", "nearest"] = "none"
    k: int = Field(default=4, ge=0)
    balanced: bool = True
    path: str | None = None
    seed: int = 0


class BudgetConfig(_Strict):
    money: float | None = Field(default=None, ge=0)
    calls: int | None = Field(default=None, ge=0)
    tokens: int | None = Field(default=None, ge=0)


class LoopConfig(_Strict):
    """Active learning: which items the LLM labels, and the small model that learns from them."""

    strategy: str | None = None  # default: entropy (classification), mean_token_entropy (ner)
    budget: int = Field(default=200, ge=1, description="LLM labels to buy in total, seed included")
    rounds: int = Field(default=5, ge=1)
    seed_size: int = Field(default=50, ge=1)
    seed_from_gold: bool = False
    model: str | None = None  # default: logreg (classification, pair), crf (ner)
    class_balance: bool = False
    stable_rounds: int = Field(default=0, ge=0, description="stop early once the small model's predictions on the "
                               "pool changed for fewer than stable_change of the items this many rounds in a row; 0: off")
    stable_change: float = Field(default=0.01, ge=0, le=1)
    seed: int = 0
    test_split: str = "test"


class StoreConfig(_Strict):
    path: str = "labelwise.db"


class ProjectConfig(_Strict):
    task: TaskConfig
    data: DataConfig
    annotator: AnnotatorConfig = Field(default_factory=AnnotatorConfig)
    few_shot: FewShotConfig = Field(default_factory=FewShotConfig)
    budget: BudgetConfig = Field(default_factory=BudgetConfig)
    store: StoreConfig = Field(default_factory=StoreConfig)
    loop: LoopConfig = Field(default_factory=LoopConfig)
    prices: str | None = None
    human_price_per_label: float = Field(default=0.08, ge=0)

    # Where the config file lives; relative paths in it are resolved against this folder.
    root: Path = Field(default=Path("."), exclude=True)

    @model_validator(mode="before")
    @classmethod
    def _empty_sections(cls, data: Any) -> Any:
        """A section whose keys are all commented out reads as null: treat it as empty."""
        if isinstance(data, dict):
            return {k: ({} if v is None and k in ("annotator", "few_shot", "budget", "store", "loop") else v)
                    for k, v in data.items()}
        return data

    @model_validator(mode="after")
    def _pair_needs_second_field(self) -> "ProjectConfig":
        if self.task.kind == "pair" and not self.task.text_pair_field:
            raise ValueError("task.kind 'pair' needs task.text_pair_field")
        return self

    def resolve(self, p: str | Path) -> Path:
        p = Path(p).expanduser()
        return p if p.is_absolute() else (self.root / p)


def _line_of(node: yaml.Node | None, loc: tuple[Any, ...]) -> int | None:
    """Find the 1-based line of a dotted location in a composed YAML tree."""
    line = None
    for key in loc:
        if not isinstance(node, yaml.MappingNode):
            break
        for k, v in node.value:
            if k.value == str(key):
                line = k.start_mark.line + 1
                node = v
                break
        else:
            break
    return line


def load_config(path: str | Path) -> ProjectConfig:
    path = Path(path)
    if path.is_dir():
        path = path / CONFIG_NAME
    if not path.exists():
        raise ConfigError("no project config here; run `labelwise init DIR` to create one",
                          path=str(path))
    text = path.read_text(encoding="utf-8")
    try:
        raw = yaml.safe_load(text) or {}
        tree = yaml.compose(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        raise ConfigError(f"not valid YAML: {getattr(e, 'problem', e)}", path=str(path),
                          line=mark.line + 1 if mark else None) from None
    if not isinstance(raw, dict):
        raise ConfigError("the config must be a mapping of sections (task, data, ...)", path=str(path))
    try:
        cfg = ProjectConfig.model_validate(raw)
    except ValidationError as e:
        err = e.errors()[0]
        loc = tuple(err["loc"])
        msg = "unknown key (check the spelling; `labelwise init` writes every key with a comment)" \
            if err["type"] == "extra_forbidden" else err["msg"]
        more = f" (and {len(e.errors()) - 1} more problem(s))" if len(e.errors()) > 1 else ""
        raise ConfigError(msg + more, path=str(path), line=_line_of(tree, loc),
                          field=".".join(str(x) for x in loc) or None) from None
    cfg.root = path.parent.resolve()
    return cfg
