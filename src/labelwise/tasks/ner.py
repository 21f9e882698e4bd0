"""Named entities: the LLM lists entity mentions as JSON under a schema; the mentions are aligned
to the sentence's tokens and become BIO tags. An answer that cannot be aligned is an error,
stored with the raw answer, never a guessed label."""
from __future__ import annotations

import re
from typing import Any, Mapping, Sequence

import orjson

from ..errors import ParseError
from ..quality.ner_metrics import ner_report, token_confidence_report
from ..types import Labeled, Message, Query, Record, Response
from .base import register_task
from .kinds import Starter, TaskKind, register_kind
from .bio import check_tags, spans_to_tags, tags_to_spans
from .ner_align import Mention, align
from .ner_confidence import token_confidence
from .template import Template, load_template_source

# Words, numbers (with inner . , ' -), or any other single non-space character.
_TOKEN = re.compile(r"\w+(?:[.,'’\-]\w+)*|[^\w\s]", re.UNICODE)


def tokenize(text: str) -> list[str]:
    """A language-agnostic tokenizer for raw-text input (pre-tokenized input is kept as is)."""
    return _TOKEN.findall(text)


def tokens_of(fields: Mapping[str, Any], field: str) -> list[str]:
    value = fields[field]
    return tokenize(value) if isinstance(value, str) else [str(t) for t in value]


def entity_schema(types: Sequence[str]) -> dict[str, Any]:
    """The JSON schema the backend constrains its answer to."""
    return {"type": "object", "properties": {"entities": {"type": "array", "items": {
        "type": "object", "properties": {"text": {"type": "string"}, "type": {"type": "string", "enum": list(types)}},
        "required": ["text", "type"]}}}, "required": ["entities"]}


def read_mentions(text: str) -> list[Mention]:
    """The (text, type) pairs of an answer; ParseError when it is not the asked-for JSON."""
    try:
        obj = orjson.loads(text.strip().removeprefix("```json").removesuffix("```").strip() or b"null")
    except orjson.JSONDecodeError as e:
        raise ParseError(f"the answer is not JSON ({e}): {text[:120]!r}") from None
    ents = obj.get("entities") if isinstance(obj, dict) else None
    if not isinstance(ents, list):
        raise ParseError(f'the answer has no "entities" list: {text[:120]!r}')
    out = []
    for e in ents:
        if not (isinstance(e, dict) and isinstance(e.get("text"), str) and isinstance(e.get("type"), str)):
            raise ParseError(f'each entity needs "text" and "type" strings; got {e!r:.120}')
        out.append((e["text"], e["type"]))
    return out


@register_task("ner")
class NamedEntities:
    """Token-level BIO labels from span answers. ``labels`` are the entity types with descriptions."""

    default_template = "ner.v1.j2"

    def __init__(self, cfg: Any) -> None:
        self.cfg = cfg
        self.labels = tuple(cfg.labels)  # entity types
        self.field = cfg.text_field
        self.input_fields = (cfg.text_field,)
        self.samples = cfg.confidence_samples
        self.template = Template(load_template_source(cfg.template or self.default_template),
                                 kind=self.kind, labels=cfg.labels, instructions=cfg.instructions)
        self.template_hash = self.template.hash
        self._system = Message("system", self.template.macros.system(cfg.instructions, cfg.labels))
        self._schema = entity_schema(self.labels)

    def normalize_gold(self, raw: Any) -> tuple[str, ...]:
        if isinstance(raw, str):
            raw = raw.split()
        return check_tags([str(t) for t in raw], self.labels)

    def example_key(self, gold: Sequence[str]) -> str:
        """Few-shot balancing groups sentences by the entity types they contain."""
        return "|".join(sorted({t for _, _, t in tags_to_spans(gold)})) or "none"

    def tokens(self, record: Record) -> list[str]:
        return tokens_of(record.fields, self.field)

    def answer_json(self, tokens: Sequence[str], tags: Sequence[str]) -> str:
        """The answer the model should give for gold tags (few-shot examples)."""
        ents = [{"text": " ".join(tokens[s:e]), "type": t} for s, e, t in tags_to_spans(tags)]
        return orjson.dumps({"entities": ents}).decode()

    def _messages(self, tokens: Sequence[str], examples: Sequence[Record]) -> tuple[Message, ...]:
        msgs = [self._system]
        for ex in examples:
            ex_tokens = self.tokens(ex)
            msgs += [Message("user", self.template.macros.user(" ".join(ex_tokens))),
                     Message("assistant", self.answer_json(ex_tokens, ex.gold))]
        msgs.append(Message("user", self.template.macros.user(" ".join(tokens))))
        return tuple(msgs)

    def queries(self, record: Record, examples: Sequence[Record] = ()) -> list[Query]:
        tokens = self.tokens(record)
        # room for every token to be quoted back inside JSON, bounded
        max_tokens = min(512, 32 + 8 * len(tokens))
        return [Query(self._messages(tokens, examples), max_tokens=max_tokens, json_schema=self._schema,
                      samples=self.samples)]

    def content_free_queries(self, examples: Sequence[Record] = ()) -> list[list[Query]]:
        return []  # calibration applies to scored choices; NER answers are generated

    def tags_from_text(self, tokens: Sequence[str], text: str) -> tuple[str, ...]:
        return spans_to_tags(len(tokens), align(tokens, read_mentions(text), self.labels))

    def parse(self, record: Record, responses: Sequence[Response],
              prior: Sequence[Mapping[str, float]] | None = None) -> Labeled:
        tokens = self.tokens(record)
        resp = responses[0]
        mentions = read_mentions(resp.text)
        spans = align(tokens, mentions, self.labels)
        tags = spans_to_tags(len(tokens), spans)
        dist: dict[str, Any] = {}
        conf = token_confidence(tokens, spans, mentions, resp.text, resp.token_logprobs)
        if conf is not None:
            dist["token_confidence"] = conf
        if len(resp.samples) < 2:
            return Labeled(label=tags, distribution=dist or None)
        agree = [0] * len(tokens)
        usable = 0
        for s in resp.samples:  # the first sample is the greedy answer itself
            try:
                other = self.tags_from_text(tokens, s)
            except ParseError:  # an unusable sample disagrees everywhere
                usable += 1
                continue
            usable += 1
            agree = [a + (x == y) for a, x, y in zip(agree, tags, other)]
        dist["token_agreement"] = [a / usable for a in agree]
        return Labeled(label=tags, distribution=dist)

    def metrics(self, gold: Sequence[Any], labeled: Sequence[Labeled]) -> dict[str, Any]:
        pairs = [(g, l) for g, l in zip(gold, labeled) if g is not None]
        if not pairs:
            return {"n": 0}
        out = ner_report([g for g, _ in pairs], [l.label for _, l in pairs], self.labels)
        scored = [(g, l.label, l.distribution["token_confidence"]) for g, l in pairs
                  if l.distribution and "token_confidence" in l.distribution]
        if scored:  # how well the log-probability confidence separates right tags from wrong ones
            out["token_confidence"] = token_confidence_report(*zip(*scored))
        return out


register_kind(TaskKind("ner", rounds="labelwise.loop_models:TaggerRounds", display="labelwise.cli.eval_display:show_ner",
                       metric_names={"f1": "entity F1 (micro)"}, min_labels=1, labels_are="entity types",
                       starter=Starter("labelwise.cli.init_template:NER_CONFIG_TEMPLATE", ("wnut17_sample.jsonl",),
                                       "WNUT-17 tweets sample")))
