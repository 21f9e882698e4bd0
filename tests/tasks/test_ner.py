"""The NER task: prompts, JSON answers, alignment of mentions to tokens, BIO, agreement."""
import json

import pytest

from labelwise.config import TaskConfig
from labelwise.errors import ParseError
from labelwise.tasks.base import make_task
from labelwise.tasks.ner import entity_schema, read_mentions, tokenize
from labelwise.tasks.ner_align import align
from labelwise.types import Record, Response

TYPES = ("PER", "ORG", "LOC")


@pytest.fixture
def ner():
    return make_task(TaskConfig(kind="ner", text_field="tokens", instructions="Find names.",
                                labels={"PER": "people", "ORG": "organisations", "LOC": "places"}))


def answer(*ents):
    return json.dumps({"entities": [{"text": t, "type": ty} for t, ty in ents]})


def rec(tokens, gold=None):
    return Record("r1", {"tokens": tokens}, gold=gold)


def test_align_multiword_punctuation_and_whitespace_free_matching():
    toks = ["Mr", ".", "Obi", "went", "to", "New", "York", "and", "the", "U.S", ".", "Army", "."]
    spans = align(toks, [("Obi", "PER"), ("New York", "LOC"), ("U.S. Army", "ORG")], TYPES)
    assert spans == [(2, 3, "PER"), (5, 7, "LOC"), (9, 12, "ORG")]


def test_align_respects_token_boundaries():
    with pytest.raises(ParseError, match="not in the sentence"):
        align(["Parisian", "food"], [("Paris", "LOC")], TYPES)


def test_a_mention_listed_once_labels_every_occurrence_listed_k_times_the_first_k():
    toks = ["Ali", "met", "Ali", "and", "Ali"]
    assert align(toks, [("Ali", "PER")], TYPES) == [(0, 1, "PER"), (2, 3, "PER"), (4, 5, "PER")]
    assert align(toks, [("Ali", "PER"), ("Ali", "PER")], TYPES) == [(0, 1, "PER"), (2, 3, "PER")]
    # listed more often than it occurs: every occurrence, nothing invented
    assert align(["Ali", "ran"], [("Ali", "PER")] * 3, TYPES) == [(0, 1, "PER")]


def test_align_case_insensitive_only_as_fallback_and_unicode():
    toks = ["Bamakɔ", "ye", "BAMAKƆ", "ye"]
    assert align(toks, [("Bamakɔ", "LOC")], TYPES) == [(0, 1, "LOC")]  # exact match wins
    assert align(["Sipho", "eGoli"], [("egoli", "LOC")], TYPES) == [(1, 2, "LOC")]


@pytest.mark.parametrize("mentions, error", [
    ([("Lagos", "LOC")], "not in the sentence"),                       # invented
    ([("Obi", "PERSON")], "unknown entity type"),                      # type outside the schema
    ([("Obi", "PER"), ("Obi", "ORG")], "two types"),                   # same words, two types
    ([("Obi Okafor", "PER"), ("Okafor Ltd", "ORG")], "overlapping"),   # overlap
    ([(" ", "PER")], "empty"),
])
def test_align_never_guesses(mentions, error):
    with pytest.raises(ParseError, match=error):
        align(["Obi", "Okafor", "Ltd", "said"], mentions, TYPES)


def test_type_names_match_case_insensitively():
    assert align(["Obi", "said"], [("Obi", "per")], TYPES) == [(0, 1, "PER")]


@pytest.mark.parametrize("text", ["not json", '{"entities": {}}', '["Obi"]', '{"entities": [{"text": 3, "type": "PER"}]}',
                                  '{"entities": [{"text": "Obi"}]}'])
def test_read_mentions_rejects_other_shapes(text):
    with pytest.raises(ParseError):
        read_mentions(text)


def test_read_mentions_accepts_a_fenced_json_block():
    assert read_mentions('```json\n{"entities": [{"text": "Obi", "type": "PER"}]}\n```') == [("Obi", "PER")]


def test_parse_gives_bio_tags(ner):
    r = rec(["Obi", "Okafor", "visited", "Lagos", "."])
    lab = ner.parse(r, [Response(text=answer(("Obi Okafor", "PER"), ("Lagos", "LOC")))])
    assert lab.label == ("B-PER", "I-PER", "O", "B-LOC", "O")
    assert ner.parse(r, [Response(text='{"entities": []}')]).label == ("O",) * 5


def test_parse_error_keeps_nothing_as_label(ner):
    with pytest.raises(ParseError, match="not in the sentence"):
        ner.parse(rec(["Obi", "ran"]), [Response(text=answer(("Ada", "PER")))])


def test_agreement_over_samples_gives_token_confidence(ner):
    r = rec(["Obi", "met", "Ada"])
    greedy = answer(("Obi", "PER"), ("Ada", "PER"))
    samples = (greedy, answer(("Obi", "PER")), "garbage", answer(("Obi", "PER"), ("Ada", "PER")))
    lab = ner.parse(r, [Response(text=greedy, samples=samples)])
    assert lab.label == ("B-PER", "O", "B-PER")
    # Obi: 3 of 4 parsable-or-not answers agree (the garbage one counts as disagreeing)
    assert lab.distribution["token_agreement"] == [0.75, 0.75, 0.5]


def test_queries_carry_schema_examples_and_samples():
    task = make_task(TaskConfig(kind="ner", text_field="tokens", labels={"PER": "people"}, confidence_samples=3))
    ex = Record("e1", {"tokens": ["Ada", "Lovelace", "wrote"]}, gold=("B-PER", "I-PER", "O"))
    (q,) = task.queries(rec(["Obi", "ran"]), [ex])
    assert q.json_schema == entity_schema(("PER",)) and q.samples == 3 and q.choices is None
    roles = [m.role for m in q.messages]
    assert roles == ["system", "user", "assistant", "user"]
    assert json.loads(q.messages[2].content) == {"entities": [{"text": "Ada Lovelace", "type": "PER"}]}
    assert q.messages[-1].content.endswith("Obi ran")
    assert "PER: people" in q.messages[0].content
    assert q.as_json()["samples"] == 3


def test_single_sample_queries_keep_their_cache_identity(ner):
    (q,) = ner.queries(rec(["Obi"]))
    assert "samples" not in q.as_json()


def test_gold_tags_are_checked(ner):
    assert ner.normalize_gold(["B-PER", "O"]) == ("B-PER", "O")
    assert ner.normalize_gold("B-PER O") == ("B-PER", "O")
    with pytest.raises(ValueError, match="B-DATE"):
        ner.normalize_gold(["B-DATE", "O"])


def test_raw_text_input_is_tokenized():
    task = make_task(TaskConfig(kind="ner", labels={"LOC": "places"}))
    r = Record("x", {"text": "I flew to São Paulo, Brazil."})
    assert task.tokens(r) == ["I", "flew", "to", "São", "Paulo", ",", "Brazil", "."]
    assert task.parse(r, [Response(text=answer(("São Paulo", "LOC")))]).label == ("O", "O", "O", "B-LOC", "I-LOC",
                                                                                   "O", "O", "O")
    assert tokenize("U.S. costs $3.50") == ["U.S", ".", "costs", "$", "3.50"]


def test_metrics_are_entity_level(ner):
    from labelwise.types import Labeled
    m = ner.metrics([("B-PER", "O"), ("B-LOC", "I-LOC")], [Labeled(("B-PER", "O")), Labeled(("B-LOC", "O"))])
    assert m["micro"]["precision"] == 0.5 and m["micro"]["recall"] == 0.5
    assert m["token_accuracy"] == 0.75


def test_examples_are_balanced_by_entity_types(ner):
    assert ner.example_key(("B-PER", "O", "B-LOC", "B-PER")) == "LOC|PER"
    assert ner.example_key(("O", "O")) == "none"


def test_one_entity_type_is_enough_for_ner_but_not_for_classification():
    from pydantic import ValidationError
    TaskConfig(kind="ner", labels={"PER": "people"})
    with pytest.raises(ValidationError, match="at least two labels"):
        TaskConfig(kind="classification", labels={"PER": "people"})
