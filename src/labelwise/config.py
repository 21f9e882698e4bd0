"""Project config: a pydantic model read from ``labelwise.yaml``; unknown keys are rejected.

Validation errors name the file, the line and the dotted field, e.g.
``labelwise.yaml:12 (field 'annotator.concurency'): unknown key``.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator, model_validator

from .errors import ConfigError
from .textfile import read_utf8

CONFIG_NAME = "labelwise.yaml"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TaskConfig(_Strict):
    kind: str = "classification"
    instructions: str = ""
    labels: dict[str, str] = Field(default_factory=dict, validate_default=True)
    text_field: str = "text"
    text_pair_field: str | None = None
    template: str | None = None  # a template file; default: the task kind's packaged template
    confidence_samples: int = Field(default=1, ge=1, le=32, description=(
        "ner: answers per sentence; above 1, extra answers are sampled and each token's confidence "
        "is the share of answers that agree with the first (greedy) one"))

    @field_validator("kind")
    @classmethod
    def _kind_known(cls, v: str) -> str:
        from .tasks.kinds import task_kind
        try:
            task_kind(v)
        except ConfigError as e:
            raise ValueError(e.message) from None
        return v

    @field_validator("labels")
    @classmethod
    def _labels_present(cls, v: dict[str, str], info: ValidationInfo) -> dict[str, str]:
        from .tasks.kinds import task_kind  # each kind says what its labels must be
        if "kind" not in info.data:  # the kind itself was refused: that is the error to report
            return {str(k): str(d or "") for k, d in v.items()}
        return task_kind(info.data["kind"]).check_labels(v)


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
    n_threads: int | None = Field(default=None, ge=1, description=(
        "llamacpp: threads for the model; unset, the cores other processes leave free when it loads "
        "(llama.cpp slows sharply when its threads wait for busy cores)"))
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
    order: Literal["similar_last", "shared_first"] = Field(default="similar_last", description=(
        "nearest: how an item's examples are ordered in its prompt. similar_last puts the most "
        "similar next to the question; shared_first puts the examples many items retrieve first "
        "(ranked on the example pool alone), so consecutive prompts share longer prefixes, which a "
        "prefix cache that keeps any shared prefix (a llama.cpp server's, a hosted API's) reuses. The "
        "embedded model reuses an item's examples when the previous prompt has the same ones in the "
        "same order, which shared_first gives any two items that retrieved the same set "
        "(bench/RESULTS.md, speed)"))
    clusters: int = Field(default=0, ge=0, description=(
        "nearest: 0 retrieves each item's own nearest examples. N > 0 groups the example pool into "
        "N clusters (spherical k-means on the embeddings, seeded) and gives each item the examples "
        "nearest the centre of its cluster: items of one cluster share one prompt head, which the "
        "embedded model evaluates once for them all -- less specific examples, close to fixed "
        "few-shot's cost (bench/RESULTS.md, speed)"))

    @model_validator(mode="after")
    def _clusters_need_nearest(self) -> "FewShotConfig":
        if self.clusters and self.mode != "nearest":
            raise ValueError(f"few_shot.clusters applies to mode nearest (mode is {self.mode!r}); remove it or "
                             "set mode: nearest")
        return self


class BudgetConfig(_Strict):
    money: float | None = Field(default=None, ge=0)
    requests: int | None = Field(default=None, ge=0, description="paid HTTP requests (a score probe and k "
                                 "sampled votes for one item are 1 + k)")
    items: int | None = Field(default=None, ge=0, description="items that needed at least one paid call")
    tokens: int | None = Field(default=None, ge=0)
    calls: int | None = Field(default=None, ge=0, description="the old name of requests")


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
    initial_train: str | None = Field(default=None, description="a labeled file (the data's columns) the small "
                                      "model is trained on before any LLM label is bought: the source domain; "
                                      "round 0 then picks by the strategy, not at random")
    pool: str | None = Field(default=None, description="unlabeled inputs (the data's columns, any domains) the "
                             "budget buys LLM labels from; the data file then only supplies the test split")


class RouteConfig(_Strict):
    """Who labels each item: a chain of stages, each accepting the items whose confidence clears
    a threshold calibrated on gold with a stated guarantee, forwarding the rest."""

    stages: list[str] = Field(default_factory=list, description="cheapest first: optionally a small "
                              "model first (`committee`, `committee:MODEL`, `small:MODEL`), then BACKEND:MODEL "
                              "annotators, and optionally `human` last (the rest goes to people)")
    target_accuracy: float = Field(default=0.95, gt=0, lt=1)
    delta: float = Field(default=0.05, gt=0, lt=1, description="the guarantee holds with probability 1 - delta")
    gold: str | None = Field(default=None, description="a file of labeled items with the data's columns "
                             "(default: the data file's rows that have gold)")
    gold_sample: int | None = Field(default=None, ge=1, description="use at most this many gold items")
    holdout: float = Field(default=0.3, ge=0, lt=1, description="share of the gold kept out of calibration, "
                           "to report each stage's accuracy on items it never saw")
    min_accepted: int = Field(default=30, ge=1)
    confidence: Literal["top", "margin"] = Field(default="margin", description="a scored distribution's top "
                                                 "probability, or top minus second (NER: the lowest token confidence)")
    seed: int = 0
    rule: Literal["calibrated", "quantile"] = Field(default="calibrated", description="calibrated: thresholds on "
                                                    "gold with a guarantee; quantile: the LLM Chain Ensembles "
                                                    "baseline, each model keeps an equal share by confidence rank "
                                                    "(no gold, no guarantee, nothing certified)")
    train_size: int = Field(default=200, ge=2, description="pool items the next LLM stage labels to train a "
                            "small-model stage (committee, small:MODEL)")
    committee_size: int = Field(default=3, ge=1, description="members of a `committee` stage (bagged copies)")
    continual: bool = Field(default=True, description="a small-model stage labels the pool in batches and "
                            "learns, after each, what later stages labeled for the items it forwarded")
    batch_size: int = Field(default=200, ge=1, description="items per batch of a continual small-model stage")


class GoldConfig(_Strict):
    """Gold questions in the annotation stream: the data's rows that have a gold label, and the
    items of ``path`` mixed in at random positions; watched while `annotate` runs."""

    path: str | None = Field(default=None, description="labeled items (the data's columns) mixed into the stream")
    target: float | None = Field(default=None, gt=0, le=1, description="accuracy the annotator must reach; "
                                 "unset: gold accuracy is reported, nothing is tested")
    delta: float = Field(default=0.05, gt=0, lt=1, description="the test's error rate (one-sided)")
    action: Literal["stop", "warn", "reroute"] = Field(
        default="stop", description="when the upper bound on gold accuracy falls below target: stop before the "
        "next paid call, warn, or reroute (the items go to the stage after the annotator in route.stages)")
    min_items: int = Field(default=10, ge=1, description="gold answers before the test may act")
    sample: int | None = Field(default=None, ge=1, description="ask at most this many gold items (the most "
                               "certain first with certainty_field; else a seeded random choice)")
    certainty_field: str | None = Field(default=None, description="a column giving how certain each gold label "
                                        "is (e.g. the share of people who agreed); higher is asked first, rows "
                                        "without it are not used as gold")
    min_certainty: float | None = Field(default=None, description="gold rows under this certainty are not asked")
    seed: int = 0

    @model_validator(mode="after")
    def _floor_needs_a_field(self) -> "GoldConfig":
        if self.min_certainty is not None and not self.certainty_field:
            raise ValueError("gold.min_certainty needs gold.certainty_field: the column it applies to")
        return self


class ReviewConfig(_Strict):
    """The review page (`labelwise review`): people label what the machines could not certify."""

    overlap: int = Field(default=1, ge=1, description="reviewers per item; an item leaves the queue once this many "
                         "people answered it")
    gold_share: float = Field(default=0.1, ge=0, lt=1, description="share of a reviewer's queue that is gold "
                              "questions (unmarked), for their accuracy")
    price_per_hour: float | None = Field(default=None, ge=0, description="what an hour of review costs; a label's "
                                         "cost is its measured time at this rate (unset: human_price_per_label)")
    judge_margin: float = Field(default=0.5, ge=0, le=1, description="a person's answer that differs from an LLM "
                                "pre-annotation at least this sure (and from the small model's) gets a second look")
    seed: int = 0


class StoreConfig(_Strict):
    path: str = Field(default="labelwise.db", description="the SQLite project database (relative to the project)")
    url: str | None = Field(default=None, description="a PostgreSQL project database instead (postgresql://user@host/db; "
                            "$VARS are expanded, e.g. a password from the environment): many processes and machines "
                            "can then annotate the project together")
    lease_s: float = Field(default=60.0, gt=0, description="on a shared (PostgreSQL) store, how long a question a "
                           "worker claimed stays its own without renewal: a dead worker's questions wait this long "
                           "before another takes them over")

    @field_validator("url")
    @classmethod
    def _postgres_url(cls, v: str | None) -> str | None:
        if v is None:
            return None
        v = os.path.expandvars(v)
        if not v.startswith(("postgresql://", "postgres://")):
            raise ValueError(f"store.url must be a postgresql:// URL (got {v.split('://')[0]}://...); "
                             "a SQLite database is store.path")
        return v


class ProjectConfig(_Strict):
    task: TaskConfig
    data: DataConfig
    annotator: AnnotatorConfig = Field(default_factory=AnnotatorConfig)
    few_shot: FewShotConfig = Field(default_factory=FewShotConfig)
    budget: BudgetConfig = Field(default_factory=BudgetConfig)
    store: StoreConfig = Field(default_factory=StoreConfig)
    loop: LoopConfig = Field(default_factory=LoopConfig)
    route: RouteConfig = Field(default_factory=RouteConfig)
    gold: GoldConfig = Field(default_factory=GoldConfig)
    review: ReviewConfig = Field(default_factory=ReviewConfig)
    prices: str | None = None
    human_price_per_label: float = Field(default=0.08, ge=0)

    # Where the config file lives; relative paths in it are resolved against this folder.
    root: Path = Field(default=Path("."), exclude=True)

    @model_validator(mode="before")
    @classmethod
    def _empty_sections(cls, data: Any) -> Any:
        """A section whose keys are all commented out reads as null: treat it as empty."""
        if isinstance(data, dict):
            return {k: ({} if v is None and k in ("annotator", "few_shot", "budget", "store", "loop", "route", "gold", "review")
                        else v)
                    for k, v in data.items()}
        return data

    @model_validator(mode="after")
    def _pair_needs_second_field(self) -> "ProjectConfig":
        from .tasks.kinds import task_kind
        if task_kind(self.task.kind).two_texts and not self.task.text_pair_field:
            raise ValueError(f"task.kind '{self.task.kind}' needs task.text_pair_field")
        return self

    @model_validator(mode="after")
    def _reroute_needs_a_next_stage(self) -> "ProjectConfig":
        if self.gold.action == "reroute":
            me, stages = f"{self.annotator.backend}:{self.annotator.model}", self.route.stages
            if me not in stages or stages.index(me) == len(stages) - 1:
                raise ValueError(f"gold.action 'reroute' sends the items to the stage after the annotator ({me}) "
                                 "in route.stages; list it there with a stage after it, e.g. route: {stages: "
                                 f"[{me}, llamacpp:qwen2.5-coder-1.5b-instruct, human]}}")
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


def _read_text(path: Path) -> str:
    return read_utf8(path, ConfigError, "config")


def _runaway_quote(text: str, problem_line: int) -> int | None:
    """The 0-based line where a quoted value opened, if one spans lines and closes on the line
    where YAML failed: an unclosed quote ends at the next quote, lines later, and the error is
    reported there. None when no such value precedes the error."""
    last = None
    try:
        for tok in yaml.scan(text):
            if isinstance(tok, yaml.ScalarToken) and tok.style in ('"', "'") \
                    and tok.start_mark.line < tok.end_mark.line:
                last = tok
    except yaml.YAMLError:
        pass
    return last.start_mark.line if last and last.end_mark.line == problem_line else None


def _yaml_error(e: yaml.YAMLError, text: str, path: Path) -> ConfigError:
    """A YAML error at the line that caused it. YAML notices a mistake where it gets stuck,
    often far below the cause: an unclosed quote or bracket is reported where the file ends, or
    a bracket where the next key starts (the cause is ``context_mark``, where it opened); a quote
    that runs on to the next quote is reported there (see ``_runaway_quote``)."""
    problem = getattr(e, "problem", None) or str(e)
    pmark = getattr(e, "problem_mark", None)
    cmark = getattr(e, "context_mark", None)
    context = getattr(e, "context", None)
    if pmark is None:
        return ConfigError(f"not valid YAML: {problem}", path=str(path))
    at_end = "end of stream" in problem or "<stream end>" in problem
    flow = bool(context) and ("flow sequence" in context or "flow mapping" in context)
    if cmark is not None and context and (at_end or flow) and cmark.line < pmark.line:
        what = context.removeprefix("while ").removeprefix("scanning ").removeprefix("parsing ")
        what = {"a quoted scalar": "a quoted value", "a flow sequence": "a [...] list",
                "a flow mapping": "a {...} mapping"}.get(what, what)
        how = "is never closed" if at_end else "is not closed where expected"
        return ConfigError(f"not valid YAML: {what} that starts on this line {how} "
                           f"(YAML: {problem} at line {pmark.line + 1})", path=str(path), line=cmark.line + 1)
    opened = _runaway_quote(text, pmark.line)
    if opened is not None:
        return ConfigError(f"not valid YAML: the quoted value that starts on this line runs on to line "
                           f"{pmark.line + 1}, where YAML says: {problem}; an unclosed quote?",
                           path=str(path), line=opened + 1)
    return ConfigError(f"not valid YAML: {problem}", path=str(path), line=pmark.line + 1)


def _resolve_template(cfg: ProjectConfig, tree: yaml.Node | None, path: Path) -> None:
    """Make ``task.template`` a file next to the config, as every other path in it is, whatever
    the working directory; a name that is not a file there must be a packaged template."""
    name = cfg.task.template
    if not name:
        return
    p = cfg.resolve(name)
    if p.is_file():
        cfg.task.template = str(p)
        return
    from importlib import resources
    if not Path(name).is_absolute() and resources.files("labelwise.tasks").joinpath("templates", name).is_file():
        return
    raise ConfigError(f"no template file {p} (and no packaged template of that name); a relative path is "
                      "read from the config's folder", path=str(path), line=_line_of(tree, ("task", "template")),
                      field="task.template")


def load_config(path: str | Path) -> ProjectConfig:
    """Read and validate a project config; every problem is a one-line ConfigError naming the
    file, line and field. Relative paths in it are relative to the config's folder."""
    path = Path(path)
    if path.is_dir():
        path = path / CONFIG_NAME
    if not path.exists():
        raise ConfigError("no project config here; run `labelwise init DIR` to create one",
                          path=str(path))
    if path.is_dir():
        raise ConfigError(f"is a directory; name the config file ({CONFIG_NAME})", path=str(path))
    text = _read_text(path)
    try:
        raw = yaml.safe_load(text) or {}
        tree = yaml.compose(text)
    except yaml.YAMLError as e:
        raise _yaml_error(e, text, path) from None
    if not isinstance(raw, dict):
        raise ConfigError("the config must be a mapping of sections (task, data, ...)", path=str(path))
    if "root" in raw:  # a field of the model, but set from the file's place, never from the file
        raise ConfigError("unknown key (relative paths are always read from the config's folder)",
                          path=str(path), line=_line_of(tree, ("root",)), field="root")
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
    _resolve_template(cfg, tree, path)
    return cfg
