"""Multi-label classification: one yes/no question per label over a shared prompt prefix."""
from __future__ import annotations

from typing import Any, Mapping, Sequence

from ..errors import ParseError
from ..quality.classification_metrics import multilabel_report
from ..types import Labeled, Message, Query, Record, Response
from .base import CONTENT_FREE, distribution_of, register_task
from .kinds import TaskKind, register_kind
from .template import Template, load_template_source

YES_NO = ("yes", "no")
MAX_SHOTS = 4096  # rendered (example, label) questions kept per task


@register_task("multilabel")
class MultiLabel:
    """Each label is asked separately; P(yes) is its probability, labels with P >= 0.5 are kept."""

    def __init__(self, cfg: Any) -> None:
        self.cfg = cfg
        self.labels = tuple(cfg.labels)
        self.input_fields = (cfg.text_field,)
        self.template = Template(load_template_source(cfg.template or "multilabel.v1.j2"),
                                 kind=self.kind, labels=cfg.labels, instructions=cfg.instructions)
        self.template_hash = self.template.hash
        self._system = Message("system", self.template.macros.system(cfg.instructions, cfg.labels))
        self._user_macro = self.template.macro("user", 4)  # fields, text_field, label, description
        self._shots: dict[tuple[int, str], tuple[Record, tuple[Message, Message]]] = {}

    def normalize_gold(self, raw: Any) -> tuple[str, ...]:
        if isinstance(raw, str):
            raw = [p for p in raw.replace(",", "|").split("|") if p.strip()]
        values = tuple(sorted({str(v).strip() for v in raw}))
        bad = [v for v in values if v not in self.labels]
        if bad:
            raise ValueError(f"labels {bad} are not in the schema {list(self.labels)}")
        return values

    def _question(self, fields: Mapping[str, Any], label: str) -> str:
        return self._user_macro(fields, self.cfg.text_field, label, self.cfg.labels[label])

    def _shot(self, ex: Record, label: str) -> tuple[Message, Message]:
        """An example's question and answer for one label, rendered once per example record
        (tasks are pure, records frozen); reused Message objects keep cache-key prefixes warm."""
        hit = self._shots.get((id(ex), label))
        if hit is not None and hit[0] is ex:  # the entry holds ``ex``, so its id is still ex's
            return hit[1]
        msgs = (Message("user", self._question(ex.fields, label)),
                Message("assistant", "yes" if label in ex.gold else "no"))
        if len(self._shots) >= MAX_SHOTS:
            self._shots.clear()
        self._shots[(id(ex), label)] = (ex, msgs)
        return msgs

    def _messages(self, fields: Mapping[str, Any], label: str, examples: Sequence[Record]) -> tuple[Message, ...]:
        msgs = [self._system]
        for ex in examples:
            msgs += self._shot(ex, label)
        msgs.append(Message("user", self._question(fields, label)))
        return tuple(msgs)

    def queries(self, record: Record, examples: Sequence[Record] = ()) -> list[Query]:
        return [Query(self._messages(record.fields, l, examples), choices=YES_NO, max_tokens=4)
                for l in self.labels]

    def content_free_queries(self, examples: Sequence[Record] = ()) -> list[list[Query]]:
        return [self.queries(Record("cf", {f: cf for f in self.input_fields}), examples)
                for cf in CONTENT_FREE]

    def parse(self, record: Record, responses: Sequence[Response],
              prior: Sequence[Mapping[str, float]] | None = None) -> Labeled:
        if len(responses) != len(self.labels):
            raise ParseError(f"expected {len(self.labels)} answers, got {len(responses)}")
        probs = {l: _p_yes(l, r, prior[i] if prior else None) for i, (l, r) in enumerate(zip(self.labels, responses))}
        return Labeled(label=tuple(l for l in self.labels if probs[l] >= 0.5), distribution=probs)

    def metrics(self, gold: Sequence[Any], labeled: Sequence[Labeled]) -> dict[str, Any]:
        return multilabel_report(gold, [l.label for l in labeled], self.labels)


def _p_yes(label: str, resp: Response, prior: Mapping[str, float] | None) -> float:
    """P(yes) for one label's question. A broken score (NaN, no yes/no among the top tokens) on
    any label fails the whole item, naming the label: a missing answer is not a "no"."""
    try:
        return distribution_of(resp, YES_NO, prior)["yes"]
    except ParseError as e:
        raise ParseError(f"label {label!r}: {e}") from None


register_kind(TaskKind("multilabel", rounds="labelwise.loop_models:MultiLabelRounds"))
