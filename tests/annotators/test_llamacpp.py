"""The embedded backend with a real GGUF model (smollm2-135m, pulled by scripts/test.sh)."""
import asyncio
import json

import pytest

from labelwise.config import AnnotatorConfig
from labelwise.errors import ItemError
from labelwise.types import Message, Query

pytest.importorskip("llama_cpp")
pytestmark = [pytest.mark.real_model]

MODEL = "smollm2-135m-instruct"
SYSTEM = Message("system", "Classify the sentiment of the review. Answer positive or negative.")


def q(text, choices=("positive", "negative")):
    return Query((SYSTEM, Message("user", f"Review: {text}\nSentiment:")), choices=choices)


@pytest.fixture(scope="module")
def annotator():
    from labelwise.annotators.llamacpp import LlamaCppAnnotator
    a = LlamaCppAnnotator(AnnotatorConfig(backend="llamacpp", model=MODEL, n_ctx=1024, n_threads=2))
    yield a
    a.unload()


def fresh():
    from labelwise.annotators.llamacpp import LlamaCppAnnotator
    return LlamaCppAnnotator(AnnotatorConfig(backend="llamacpp", model=MODEL, n_ctx=1024, n_threads=2))


def test_scores_every_choice_with_the_models_chat_template(annotator):
    r = annotator.answer_sync(q("The soup was cold and the waiter rude."))
    assert set(r.choice_logprobs) == {"positive", "negative"}
    assert all(v < 0 for v in r.choice_logprobs.values())
    assert "<|im_start|>assistant" in r.raw["prompt"] and "waiter rude" in r.raw["prompt"]
    assert r.usage.prompt_tokens > 20 and r.usage.completion_tokens >= 2
    assert r.text == max(r.choice_logprobs, key=r.choice_logprobs.get)


def test_kv_cache_reuse_gives_the_same_scores_as_a_fresh_context(annotator):
    a1 = annotator.answer_sync(q("Loved every minute, great staff."))
    b = annotator.answer_sync(q("Terrible, never again."))
    a2 = annotator.answer_sync(q("Loved every minute, great staff."))
    assert b.raw["prompt_tokens_reused"] > 10  # the system prompt was not evaluated again
    for c in a1.choice_logprobs:
        assert a2.choice_logprobs[c] == pytest.approx(a1.choice_logprobs[c], abs=1e-3)
    other = fresh()
    try:
        b_fresh = other.answer_sync(q("Terrible, never again."))
    finally:
        other.unload()
    assert b_fresh.raw["prompt_tokens_reused"] == 0
    for c in b.choice_logprobs:
        assert b.choice_logprobs[c] == pytest.approx(b_fresh.choice_logprobs[c], abs=1e-3)


def test_multi_token_choices_are_scored_token_by_token(annotator):
    r = annotator.answer_sync(q("Fine I guess.", choices=("very positive", "somewhat negative")))
    toks = r.raw["choice_tokens"]
    assert len(toks["very positive"]) >= 2 and len(toks["somewhat negative"]) >= 2
    single = annotator.answer_sync(q("Fine I guess.", choices=("very", "somewhat")))
    # log P("very positive") = log P("very") + log P(" positive" | "very") <= log P("very")
    assert r.choice_logprobs["very positive"] < single.choice_logprobs["very"] + 1e-6


def test_prompt_longer_than_the_context_is_an_item_error():
    from labelwise.annotators.llamacpp import LlamaCppAnnotator
    small = LlamaCppAnnotator(AnnotatorConfig(backend="llamacpp", model=MODEL, n_ctx=256, n_threads=2))
    try:
        with pytest.raises(ItemError, match="n_ctx=256"):
            small.answer_sync(q("word " * 400))
    finally:
        small.unload()


@pytest.mark.slow
def test_json_schema_grammar_returns_valid_json():
    from labelwise.annotators.llamacpp import LlamaCppAnnotator
    schema = {"type": "object", "properties": {"sentiment": {"type": "string", "enum": ["positive", "negative"]}},
              "required": ["sentiment"]}
    a = LlamaCppAnnotator(AnnotatorConfig(backend="llamacpp", model=MODEL, n_ctx=1024, n_threads=2, grammar=True))
    try:
        r = a.answer_sync(Query((SYSTEM, Message("user", "Review: Great!\nAnswer in JSON.")), max_tokens=24,
                                json_schema=schema))
    finally:
        a.unload()
    assert json.loads(r.text)["sentiment"] in ("positive", "negative")
    assert a.identity()["grammar"] is True


def test_generation_samples_greedy_first_then_seeded_samples(annotator):
    query = Query((SYSTEM, Message("user", "Review: Great food!\nWhat do you think?")), max_tokens=12, samples=3)
    r = annotator.answer_sync(query)
    greedy = annotator.answer_sync(Query(query.messages, max_tokens=12))
    assert len(r.samples) == 3 and r.samples[0] == r.text == greedy.text
    assert len(r.raw["samples"]) == 2
    assert r.usage.completion_tokens >= greedy.usage.completion_tokens
    assert "grammar" not in annotator.identity()


def test_greedy_generation_matches_llama_cpp_at_temperature_zero_and_carries_token_logprobs(annotator):
    """Our own greedy loop (for log-probabilities) must answer exactly what llama-cpp-python's
    chat completion answers at temperature 0, including multi-byte characters."""
    for text in ("Ngozi moved from Lagos to Zürich in 2019.", "Great food!"):
        query = Query((SYSTEM, Message("user", f"Repeat this sentence, then stop: {text}")), max_tokens=40)
        r = annotator.answer_sync(query)
        ref = annotator._llm.create_chat_completion(
            messages=[{"role": m.role, "content": m.content} for m in query.messages],
            max_tokens=40, temperature=0.0, seed=0)
        assert r.text == ref["choices"][0]["message"]["content"]
        assert "".join(p for p, _ in r.token_logprobs) == r.text
        assert len(r.token_logprobs) == r.usage.completion_tokens == ref["usage"]["completion_tokens"]
        assert all(lp <= 0 for _, lp in r.token_logprobs) and any(lp < 0 for _, lp in r.token_logprobs)
        assert r.raw["completion_tokens"] and r.raw["prompt"].endswith("assistant\n")
