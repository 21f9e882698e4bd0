"""What every task shares: the registry, label matching and turning scores into distributions."""
from __future__ import annotations

import math
import re
from typing import Any, Callable, Mapping, Protocol, Sequence

from ..errors import ParseError
from ..registry import Registry
from ..types import Labeled, Query, Record, Response

# Content-free inputs for calibration (Zhao et al., 2021): the prior a model puts on each label
# with no real content is subtracted from every real score.
CONTENT_FREE = ("N/A", "", "[MASK]")


class Task(Protocol):
    """A task is pure: no I/O. It builds queries and reads responses."""

    kind: str
    labels: tuple[str, ...]
    input_fields: tuple[str, ...]
    template_hash: str

    def normalize_gold(self, raw: Any) -> Any: ...
    def queries(self, record: Record, examples: Sequence[Record] = ()) -> list[Query]: ...
    def content_free_queries(self, examples: Sequence[Record] = ()) -> list[list[Query]]: ...
    def parse(self, record: Record, responses: Sequence[Response],
              prior: Sequence[Mapping[str, float]] | None = None) -> Labeled: ...
    def metrics(self, gold: Sequence[Any], labeled: Sequence[Labeled]) -> dict[str, Any]: ...


TASKS = Registry("task kind", field="task.kind")


def register_task(kind: str) -> Callable[[type], type]:
    def deco(cls: type) -> type:
        cls.kind = kind
        return TASKS.register(kind)(cls)
    return deco


def make_task(cfg: Any) -> Task:
    """Build the task named by ``cfg.kind`` from a TaskConfig."""
    from .kinds import task_kinds
    task_kinds()  # imports every kind's module, which registers its task
    return TASKS.get_factory(cfg.kind)(cfg)  # type: ignore[return-value]


def _norm(s: str) -> str:
    return re.sub(r"[^\w]+", " ", s.lower()).strip()


def match_label(text: str, labels: Sequence[str]) -> str:
    """The label a free-text answer names, or ParseError. Never guesses between labels."""
    t = _norm(text)
    normed = {_norm(l): l for l in labels}
    if t in normed:
        return normed[t]
    first_line = _norm(text.strip().splitlines()[0]) if text.strip() else ""
    hits = [l for n, l in normed.items() if n and (first_line == n or first_line.startswith(n + " "))]
    if len(hits) == 1:
        return hits[0]
    raise ParseError(f"answer {text[:80]!r} names none of the labels {list(labels)}"
                     if not hits else f"answer {text[:80]!r} is ambiguous between {hits}")


def _normalized(keys: Sequence[str], vals: list[float]) -> dict[str, float]:
    m = max(vals)
    ex = [math.exp(v - m) for v in vals]
    z = sum(ex)
    return {k: e / z for k, e in zip(keys, ex)}


def softmax(logprobs: Mapping[str, float], prior: Mapping[str, float] | None = None) -> dict[str, float]:
    """Normalise per-choice log-probabilities, optionally subtracting a calibration prior."""
    keys = list(logprobs)
    return _normalized(keys, [logprobs[k] - prior[k] for k in keys] if prior else list(logprobs.values()))


def log_normalize(logprobs: Mapping[str, float]) -> dict[str, float]:
    """Per-choice log-probabilities normalised over the choices (the calibration prior's unit)."""
    return {k: math.log(p) for k, p in softmax(logprobs).items()}


def votes(samples: Sequence[str], labels: Sequence[str]) -> dict[str, float]:
    """Share of parsable samples that name each label; ParseError when none parse."""
    counts = {l: 0 for l in labels}
    for s in samples:
        try:
            counts[match_label(s, labels)] += 1
        except ParseError:
            continue
    n = sum(counts.values())
    if n == 0:
        raise ParseError(f"none of {len(samples)} sampled answers names a label: {[s[:40] for s in samples[:3]]}")
    return {l: c / n for l, c in counts.items()}


def _finite(v: Any) -> bool:
    """A finite real number (numpy scalars too); None (a NaN after the database) is not."""
    try:
        return math.isfinite(v)
    except (TypeError, OverflowError):
        return False


def _scored(lp: Mapping[str, float], labels: Sequence[str], prior: Mapping[str, float] | None) -> dict[str, float]:
    """A distribution from per-choice log-probabilities. No score, or one that is not a finite
    number (NaN, inf; stored as null), is a ParseError: a softmax over it would be a guess."""
    if not lp:
        raise ParseError("no label among the model's top tokens: it wanted to say something else (check the prompt)")
    try:
        vals = [lp[l] for l in labels]
    except KeyError:
        raise ParseError(f"the backend scored no log-probability for {[l for l in labels if l not in lp]}") from None
    if not all(map(_finite, vals)):
        raise ParseError(f"non-finite label log-probabilities {dict(zip(labels, vals))}: "
                         "the backend's scores are broken")
    if prior:
        vals = [v - prior.get(l, math.nan) for v, l in zip(vals, labels)]
        if not all(map(math.isfinite, vals)):
            raise ParseError(f"the calibration prior {dict(prior)} has no finite value for every label")
    return _normalized(labels, vals)


def distribution_of(resp: Response, labels: Sequence[str],
                    prior: Mapping[str, float] | None = None) -> dict[str, float]:
    """A label distribution from one response: scores if it has them, else votes, else its text."""
    lp = resp.choice_logprobs
    if lp is not None:
        return _scored(lp, labels, prior)
    if resp.samples:
        return votes(resp.samples, labels)
    return {l: float(l == match_label(resp.text, labels)) for l in labels}


def label_mass(resp: Response) -> float | None:
    """The share of the model's probability that went to the labels at all: sum(exp(lp)) over
    the choices. Each choice log-probability is an unnormalised log-probability under the model,
    so a low mass means the model wanted to say something else, however sure the softmax over
    the labels looks. Choices the openai backend floored (not among the top tokens; listed in
    ``raw["floored_choices"]``, which ``Store.calls`` gives back) count 0, since the floor is only
    an upper bound. None where there are no choice scores (votes, free text) or a score is not a
    finite number (that answer is a ParseError)."""
    lp = resp.choice_logprobs
    if lp is None:
        return None
    floored = resp.raw.get("floored_choices") or () if isinstance(resp.raw, Mapping) else ()
    vals = [v for c, v in lp.items() if c not in floored]
    if not all(_finite(v) or v == -math.inf for v in vals):
        return None
    return min(1.0, sum(math.exp(v) for v in vals))


def average_priors(per_input: Sequence[Mapping[str, float]]) -> dict[str, float]:
    """Mean normalised log-probability per choice over content-free inputs. An input whose
    scores are missing or not finite (no label among its top tokens, say) tells nothing about the
    prior and is left out; with none left the prior is {} (no calibration)."""
    usable = [p for p in per_input if p and all(map(_finite, p.values()))]
    if not usable:
        return {}
    keys = usable[0].keys()
    normed = [log_normalize(p) for p in usable]
    return {k: sum(p[k] for p in normed) / len(normed) for k in keys}
