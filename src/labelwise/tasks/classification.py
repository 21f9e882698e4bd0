"""Single-label classification of one text, and of a pair of texts (paraphrase, NLI...)."""
from __future__ import annotations

from typing import Any, Mapping, Sequence

from ..quality.classification_metrics import classification_report
from ..types import Labeled, Message, Query, Record, Response
from .base import CONTENT_FREE, distribution_of, register_task
from .kinds import Starter, TaskKind, register_kind
from .template import Template, load_template_source

MAX_SHOTS = 4096  # rendered few-shot examples kept per task


@register_task("classification")
class Classification:
    """Pick exactly one label. Scored by each label's log-probability where the backend allows."""

    default_template = "classify.v1.j2"

    def __init__(self, cfg: Any) -> None:
        self.cfg = cfg
        self.labels = tuple(cfg.labels)
        self.input_fields = (cfg.text_field,)
        self.template = Template(load_template_source(cfg.template or self.default_template),
                                 kind=self.kind, labels=cfg.labels, instructions=cfg.instructions)
        self.template_hash = self.template.hash
        self._system = Message("system", self.template.macros.system(cfg.instructions, cfg.labels))
        self._user_after_fields = self._user_args()
        self._user_macro = self.template.macro("user", 1 + len(self._user_after_fields))
        self._shots: dict[int, tuple[Record, tuple[Message, Message]]] = {}

    def normalize_gold(self, raw: Any) -> str:
        value = str(raw).strip()
        if value not in self.labels:
            raise ValueError(f"label '{value}' is not in the schema {list(self.labels)}; "
                             "fix the data or map it with data.label_map")
        return value

    def _user_args(self) -> tuple[Any, ...]:
        """What the template's ``user`` macro takes after the record's fields."""
        return (self.cfg.text_field,)

    def _user(self, fields: Mapping[str, Any]) -> str:
        return self._user_macro(fields, *self._user_after_fields)

    def _shot(self, ex: Record) -> tuple[Message, Message]:
        """A few-shot example's two messages, rendered once per example record: a task is pure
        and records are frozen, so the same record always renders the same way. Reusing the
        Message objects also lets the cache keys reuse the hashed prompt prefix."""
        hit = self._shots.get(id(ex))
        if hit is not None and hit[0] is ex:  # the entry holds ``ex``, so its id is still ex's
            return hit[1]
        msgs = (Message("user", self._user(ex.fields)), Message("assistant", str(ex.gold)))
        if len(self._shots) >= MAX_SHOTS:
            self._shots.clear()
        self._shots[id(ex)] = (ex, msgs)
        return msgs

    def _messages(self, fields: Mapping[str, Any], examples: Sequence[Record]) -> tuple[Message, ...]:
        if not examples:
            return (self._system, Message("user", self._user(fields)))
        msgs = [self._system]
        for ex in examples:
            msgs += self._shot(ex)
        msgs.append(Message("user", self._user(fields)))
        return tuple(msgs)

    def queries(self, record: Record, examples: Sequence[Record] = ()) -> list[Query]:
        return [Query(self._messages(record.fields, examples), choices=self.labels, max_tokens=8)]

    def content_free_queries(self, examples: Sequence[Record] = ()) -> list[list[Query]]:
        return [[Query(self._messages({f: cf for f in self.input_fields}, examples), choices=self.labels,
                       max_tokens=8)] for cf in CONTENT_FREE]

    def parse(self, record: Record, responses: Sequence[Response],
              prior: Sequence[Mapping[str, float]] | None = None) -> Labeled:
        dist = distribution_of(responses[0], self.labels, prior[0] if prior else None)
        return Labeled(label=max(dist, key=dist.__getitem__), distribution=dist)

    def metrics(self, gold: Sequence[Any], labeled: Sequence[Labeled]) -> dict[str, Any]:
        return classification_report(gold, [l.label for l in labeled],
                                      [l.distribution for l in labeled], self.labels)


@register_task("pair")
class PairClassification(Classification):
    """One label for a pair of texts (e.g. paraphrase yes/no)."""

    default_template = "pair.v1.j2"

    def __init__(self, cfg: Any) -> None:
        super().__init__(cfg)
        self.input_fields = (cfg.text_field, cfg.text_pair_field)

    def _user_args(self) -> tuple[Any, ...]:
        return (self.cfg.text_field, self.cfg.text_pair_field)


register_kind(TaskKind("classification", starter=Starter("labelwise.cli.init_template:CONFIG_TEMPLATE",
                                                         ("yelp_reviews.csv", "yelp_examples.csv"),
                                                         "Yelp sentiment sample")))
register_kind(TaskKind("pair", two_texts=True))
