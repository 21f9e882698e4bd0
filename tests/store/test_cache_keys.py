"""Cache keys must never change for the same inputs: existing project databases replay by them.

The literal keys below were computed with the original ``cache_key`` (before the replay fast
path existed); a change that alters any of them would orphan every cached answer out there.
"""
import random

import pytest

from labelwise.config import TaskConfig
from labelwise.store import cache_key
from labelwise.store.cache import QueryKeys, identity_json
from labelwise.tasks import make_task
from labelwise.types import Message, Query, Record

IDENT = {"backend": "openai", "model": "m", "temperature": 0.0, "base_url": "http://x"}
FAKE = {"backend": "fake", "model": "scripted"}
Q_UNICODE = Query((Message("system", "Be careful."), Message("user", 'Text: café ☕ "q" \\ \n\tLabel:')),
                  choices=("positive", "negative"), max_tokens=8)
Q_SCHEMA = Query((Message("user", "give json"),), choices=None, max_tokens=64,
                 json_schema={"type": "object", "properties": {"a": {"type": "integer"}}})
PINNED = {
    "unicode": "1569de7ea38b5fd772ee90d756a056b7b24a1bbb255b3b35973dddffd88b3f4f",
    "schema": "649d93d3458cb4d0108b402745ec874559fa6c251da79f157ebbba29f19a6381",
    "classification_2shot": "4998c81b8f81364fabecf81e0afd6536ff87a153b1dd0cff36e6f3c149628ef2",
    "multilabel_1shot": ["86aa286d5ba0bf79273a3f6615ce81fc8f12e3e3185c8cdd877fc38b61ff899a",
                         "2cbb6c7c88c00bdc91055c5255765ab3fa16ec8ff8eea5108646f2e25d766544"],
    "pair": "f3e3efe830a60d078e328f225b577ad683c38666341f6d4a5e49b04b12b6d3ad",
}
SENTIMENT = TaskConfig(kind="classification", instructions="Is the review positive or negative?",
                       labels={"positive": "likes it", "negative": "dislikes it"})
SHOTS = [Record("e1", {"text": "Loved it"}, gold="positive"), Record("e2", {"text": "Hated it"}, gold="negative")]


def _task_queries():
    ml = make_task(TaskConfig(kind="multilabel", labels={"food": "about food", "service": ""}))
    pair = make_task(TaskConfig(kind="pair", labels={"yes": "same meaning", "no": "different"},
                                text_field="a", text_pair_field="b"))
    return {
        "classification_2shot": make_task(SENTIMENT).queries(Record("1", {"text": "Awful soup"}), SHOTS),
        "multilabel_1shot": ml.queries(Record("1", {"text": "Cheap and tasty"}),
                                       [Record("e", {"text": "Nice waiter"}, gold=("service",))]),
        "pair": pair.queries(Record("1", {"a": "The cat sat.", "b": "A cat was sitting."})),
    }


@pytest.mark.parametrize("make", [lambda i: (lambda q: cache_key(i, q)), lambda i: QueryKeys(identity_json(i))],
                         ids=["cache_key", "QueryKeys"])
def test_keys_computed_before_the_fast_path_are_unchanged(make):
    key = make(IDENT)
    assert key(Q_UNICODE) == PINNED["unicode"]
    assert key(Q_SCHEMA) == PINNED["schema"]
    fake = make(FAKE)
    for name, queries in _task_queries().items():
        keys = [fake(q) for q in queries]
        assert keys == (PINNED[name] if isinstance(PINNED[name], list) else [PINNED[name]]), name
    # the template hash (stored with every annotation) is pinned as well
    assert make_task(SENTIMENT).template_hash == "3dd1ca9366218861f4ba6c9503f6daa5bbf921ad3d665434991bdd73b49bf680"


def _random_text(rng):
    alphabet = ['a', 'Z', ' ', '"', '\\', '\n', '\t', '\x00', '\x1f', '\x7f', 'é', '中', '☕', '\U0001f600',
                '\u2028', '<', '&', '/', '{', '}', ',', ':']
    return "".join(rng.choice(alphabet) for _ in range(rng.randrange(0, 40)))


def test_query_keys_match_cache_key_on_random_queries():
    """The memoising key maker hashes exactly the bytes ``cache_key`` hashes, whatever the query."""
    rng = random.Random(7)
    system = Message("system", "You are a careful annotator.")
    shots = [Message("user", "an example"), Message("assistant", "yes")]
    keys = QueryKeys(identity_json(IDENT))
    shared_choices = ("yes", "no")
    for i in range(3000):
        msgs = [Message(rng.choice(["user", "assistant", "system", "tool", _random_text(rng)]), _random_text(rng))
                for _ in range(rng.randrange(1, 4))]
        if rng.random() < 0.5:  # shared prefix objects, as tasks build them
            msgs = [system, *shots[: rng.randrange(0, 3)], *msgs[-1:]]
        choices = rng.choice([None, (), shared_choices, ("yes", "no"), tuple(_random_text(rng) for _ in range(3))])
        schema = rng.choice([None, None, {"type": "object"}, {"b": [1, 2.5, None, True], "a": "x"}])
        max_tokens = rng.choice([1, True, 8, 16, 4096])
        extra = {}
        if "samples" in Query.__dataclass_fields__:  # a field added later must be keyed as as_json writes it
            extra["samples"] = rng.choice([1, 1, 3])
        q = Query(tuple(msgs), choices=choices, max_tokens=max_tokens, json_schema=schema, **extra)
        assert keys(q) == cache_key(IDENT, q), q
    # a prefix whose messages are equal but not the same objects, and empty messages
    q = Query((Message("system", "You are a careful annotator."), Message("user", "x")), choices=shared_choices)
    assert keys(q) == cache_key(IDENT, q)
    q = Query((), choices=None)
    assert keys(q) == cache_key(IDENT, q)
    # values that can change in place between two queries are keyed by their new content
    schema = {"type": "object"}
    content = ["part one"]
    inner = ["a"]
    for q in [Query((system, Message("user", "x")), json_schema=schema),
              Query((Message("system", content), Message("user", "x"))),  # not a str, but possible
              Query((system, Message("user", "x")), choices=("b", inner))]:
        before = keys(q)
        assert keys(q) == before == cache_key(IDENT, q)
        schema.setdefault("required", []).append("a")
        content.append("part two")
        inner.append("c")
        assert keys(q) == cache_key(IDENT, q) != before


def test_query_keys_memo_stays_bounded():
    keys = QueryKeys(identity_json(FAKE))
    for i in range(5000):
        prefix = Message("system", f"system prompt {i}")
        q = Query((prefix, Message("user", "x")), choices=("a", "b"), max_tokens=i % 300 + 1)
        assert keys(q) == cache_key(FAKE, q)
    assert len(keys._prefixes) <= QueryKeys.MAX_ENTRIES
    assert all(len(tails) <= QueryKeys.MAX_ENTRIES for _, tails in keys._kinds.values())


def test_query_keys_reuse_what_equal_values_share():
    """Fresh but equal option objects (a per-item max_tokens above the small-int cache, a new
    choices tuple, one schema dict) share one tail; the shared system message one prefix."""
    keys = QueryKeys(identity_json(FAKE))
    system = Message("system", "Find the entities.")
    schema = {"type": "object", "properties": {"entities": {"type": "array"}}}
    for i in range(200):
        q = Query((system, Message("user", f"sentence {i}")), choices=tuple(["a", "b"]),
                  max_tokens=int(str(300 + i % 3)), json_schema=schema)
        assert keys(q) == cache_key(FAKE, q)
    (tails,) = [t for _, t in keys._kinds.values()]
    assert len(tails) == 3 and len(keys._prefixes) == 1
