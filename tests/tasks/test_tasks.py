import math

import pytest

from labelwise.config import TaskConfig
from labelwise.errors import ParseError
from labelwise.tasks import make_task, match_label
from labelwise.tasks.base import average_priors, softmax, votes
from labelwise.types import Record, Response

LABELS = ("positive", "negative")


def test_match_label_exact_and_leading_word():
    assert match_label(" Positive.", LABELS) == "positive"
    assert match_label("negative\nbecause it is bad", LABELS) == "negative"
    assert match_label("negative - the food was cold", LABELS) == "negative"


@pytest.mark.parametrize("text", ["", "neutral", "I think positive or negative", "posi"])
def test_match_label_never_guesses(text):
    with pytest.raises(ParseError):
        match_label(text, LABELS)


def test_softmax_and_calibration_prior():
    d = softmax({"positive": math.log(0.6), "negative": math.log(0.2)})
    assert d["positive"] == pytest.approx(0.75)
    # a prior that favours 'positive' 3:1 exactly cancels the same bias in the scores
    prior = average_priors([{"positive": math.log(3), "negative": 0.0}])
    cal = softmax({"positive": math.log(3), "negative": 0.0}, prior)
    assert cal["positive"] == pytest.approx(0.5)


def test_votes_ignore_unparsable_samples_and_fail_when_none_parse():
    assert votes(["positive", "Positive!", "negative", "hmm"], LABELS) == {"positive": 2 / 3, "negative": 1 / 3}
    with pytest.raises(ParseError):
        votes(["hmm", "maybe"], LABELS)


def test_classification_queries_and_parse(sentiment_task_cfg):
    task = make_task(sentiment_task_cfg)
    ex = [Record("e1", {"text": "Loved it"}, gold="positive")]
    (q,) = task.queries(Record("1", {"text": "Awful soup"}), ex)
    roles = [m.role for m in q.messages]
    assert roles == ["system", "user", "assistant", "user"]
    assert "positive: likes it" in q.messages[0].content and "Awful soup" in q.messages[-1].content
    assert q.messages[2].content == "positive" and q.choices == LABELS
    labeled = task.parse(Record("1", {"text": "x"}), [Response(choice_logprobs={"positive": -2.0, "negative": -0.1})])
    assert labeled.label == "negative" and sum(labeled.distribution.values()) == pytest.approx(1)


def test_classification_parse_error_on_free_text(sentiment_task_cfg):
    task = make_task(sentiment_task_cfg)
    with pytest.raises(ParseError):
        task.parse(Record("1", {"text": "x"}), [Response(text="I cannot decide")])


def test_template_hash_tracks_template_and_schema(sentiment_task_cfg):
    a = make_task(sentiment_task_cfg).template_hash
    b = make_task(sentiment_task_cfg.model_copy(update={"instructions": "Other"})).template_hash
    assert a != b and len(a) == 64
    assert make_task(sentiment_task_cfg).template_hash == a


def test_gold_outside_schema_is_rejected(sentiment_task_cfg):
    with pytest.raises(ValueError, match="not in the schema"):
        make_task(sentiment_task_cfg).normalize_gold("neutral")


def test_pair_task_renders_both_texts():
    task = make_task(TaskConfig(kind="pair", labels={"yes": "same meaning", "no": "different"},
                                text_field="a", text_pair_field="b"))
    (q,) = task.queries(Record("1", {"a": "The cat sat.", "b": "A cat was sitting."}))
    assert "Text A: The cat sat." in q.messages[-1].content and "Text B: A cat was sitting." in q.messages[-1].content
    assert task.input_fields == ("a", "b")


def test_multilabel_one_yes_no_question_per_label():
    task = make_task(TaskConfig(kind="multilabel", labels={"food": "about food", "service": "about staff",
                                                           "price": "about cost"}))
    qs = task.queries(Record("1", {"text": "Cheap and tasty"}))
    assert len(qs) == 3 and all(q.choices == ("yes", "no") for q in qs)
    assert '"price"' in qs[2].messages[-1].content
    resp = [Response(choice_logprobs={"yes": -0.1, "no": -2.5}), Response(choice_logprobs={"yes": -3.0, "no": -0.05}),
            Response(choice_logprobs={"yes": -0.3, "no": -1.4})]
    out = task.parse(Record("1", {"text": "x"}), resp)
    assert out.label == ("food", "price")
    assert 0.5 < out.distribution["food"] < 1 and out.distribution["service"] < 0.5
    assert task.normalize_gold("price|food") == ("food", "price")
    m = task.metrics([("food", "price")], [out])
    assert m["subset_accuracy"] == 1.0 and m["micro_f1"] == 1.0


@pytest.mark.parametrize("scores", [
    {"positive": math.nan, "negative": -0.1},
    {"positive": -0.1, "negative": math.inf},
    {"positive": -math.inf, "negative": -0.1},
    {"positive": None, "negative": -0.1},  # a NaN after a trip through the database (stored as null)
])
def test_a_non_finite_score_is_a_parse_error_never_a_label(sentiment_task_cfg, scores):
    task = make_task(sentiment_task_cfg)
    with pytest.raises(ParseError, match="non-finite"):
        task.parse(Record("1", {"text": "x"}), [Response(choice_logprobs=scores)])


def test_a_non_finite_calibration_prior_is_a_parse_error(sentiment_task_cfg):
    task = make_task(sentiment_task_cfg)
    resp = Response(choice_logprobs={"positive": -0.1, "negative": -2.0})
    with pytest.raises(ParseError):
        task.parse(Record("1", {"text": "x"}), [resp], prior=[{"positive": math.nan, "negative": 0.0}])


def test_no_label_among_the_top_tokens_is_a_parse_error_not_the_first_label(sentiment_task_cfg):
    """Before, both labels got the same floor and 'positive' won at 0.5, by label order."""
    task = make_task(sentiment_task_cfg)
    with pytest.raises(ParseError, match="no label among the model's top tokens"):
        task.parse(Record("1", {"text": "x"}), [Response(text="I", choice_logprobs={})])


def test_multilabel_a_broken_yes_no_score_fails_the_item_naming_the_label():
    task = make_task(TaskConfig(kind="multilabel", labels={"food": "about food", "service": "about staff"}))
    ok = Response(choice_logprobs={"yes": -0.1, "no": -2.5})
    for broken, why in [(Response(choice_logprobs={"yes": math.nan, "no": -0.2}), "non-finite"),
                        (Response(choice_logprobs={"yes": -0.2, "no": -math.inf}), "non-finite"),
                        (Response(choice_logprobs={}), "no label among the model's top tokens")]:
        with pytest.raises(ParseError, match=f"label 'service': .*{why}"):
            task.parse(Record("1", {"text": "x"}), [ok, broken])


def test_average_priors_leave_out_inputs_without_finite_scores():
    """A content-free input the model answered with no label says nothing about the prior."""
    prior = average_priors([{"positive": math.log(3), "negative": 0.0}, {},
                            {"positive": math.nan, "negative": 0.0}])
    assert prior == pytest.approx(average_priors([{"positive": math.log(3), "negative": 0.0}]))
    assert average_priors([{}, {"positive": math.inf, "negative": 0.0}]) == {}  # nothing usable: no calibration
