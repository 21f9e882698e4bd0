"""Per-token NER confidence from generated-token log-probabilities, on hand-made answers whose
pieces and log-probabilities are known, so every expected value is computed by hand."""
import math

import pytest

from labelwise.config import TaskConfig
from labelwise.tasks import make_task
from labelwise.tasks.ner_confidence import token_confidence
from labelwise.types import Record, Response

TOKENS = ["I", "love", "New", "York", "and", "Obi", "."]


def pieces(*pairs):
    return tuple(pairs)


# {"entities": [{"text": "New York", "type": "LOC"}, {"text": "Obi", "type": "PER"}]}
ANSWER = pieces(('{"entities": [', -0.1), ('{"text": "', -0.2), ("New", -0.3), (" York", -0.4),
                ('", "type": "', -0.05), ("LOC", -0.6), ('"}, ', -0.01), ('{"text": "', -0.02),
                ("Obi", -1.0), ('", "type": "', -0.03), ("PER", -0.7), ('"}', -0.04), ("]}", -0.25))
TEXT = "".join(p for p, _ in ANSWER)
SPANS = [(2, 4, "LOC"), (5, 6, "PER")]
MENTIONS = [("New York", "LOC"), ("Obi", "PER")]


def test_entity_tokens_get_their_mentions_probability_and_o_tokens_the_list_end():
    conf = token_confidence(TOKENS, SPANS, MENTIONS, TEXT, ANSWER)
    # from the opening quote of the text value to the closing quote of the type value
    new_york = math.exp(-0.2 - 0.3 - 0.4 - 0.05 - 0.6 - 0.01)
    obi = math.exp(-0.02 - 1.0 - 0.03 - 0.7 - 0.04)
    stop = math.exp(-0.25)
    assert conf == pytest.approx([stop, stop, new_york, new_york, stop, obi, stop])


def test_no_entities_every_token_gets_the_probability_of_closing_the_list():
    ans = pieces(('{"entities": [', -0.1), ("]}", -1.2))
    assert token_confidence(["a", "b"], [], [], '{"entities": []}', ans) == pytest.approx([math.exp(-1.2)] * 2)


def test_a_mention_listed_once_gives_every_occurrence_the_same_confidence():
    ans = pieces(('{"entities": [{"text": "', -0.1), ("Obi", -0.5), ('", "type": "', 0.0), ("PER", -0.5),
                 ('"}', 0.0), ("]}", -0.1))
    conf = token_confidence(["Obi", "met", "Obi"], [(0, 1, "PER"), (2, 3, "PER")], [("Obi", "PER")],
                            "".join(p for p, _ in ans), ans)
    # the first piece holds the text value's opening quote, so its -0.1 counts too
    assert conf[0] == conf[2] == pytest.approx(math.exp(-1.1)) and conf[1] == pytest.approx(math.exp(-0.1))


def test_pieces_that_do_not_spell_the_answer_give_no_confidence_rather_than_a_wrong_one():
    assert token_confidence(TOKENS, SPANS, MENTIONS, TEXT.replace("Obi", "Ada"), ANSWER) is None
    assert token_confidence(TOKENS, SPANS, MENTIONS, TEXT, ()) is None


def test_parse_stores_token_confidence_next_to_the_tags():
    task = make_task(TaskConfig(kind="ner", labels={"LOC": "places", "PER": "people"}))
    rec = Record("r1", {"text": TOKENS})
    lab = task.parse(rec, [Response(text=TEXT, token_logprobs=ANSWER)])
    assert lab.label == ("O", "O", "B-LOC", "I-LOC", "O", "B-PER", "O")
    assert lab.distribution["token_confidence"][2] == pytest.approx(math.exp(-1.56))
    # without log-probabilities (e.g. a server that sends none): tags only, no invented confidence
    assert task.parse(rec, [Response(text=TEXT)]).distribution is None


def test_response_json_round_trip_keeps_token_logprobs_and_omits_them_when_absent():
    r = Response(text=TEXT, token_logprobs=ANSWER)
    assert Response.from_json(r.as_json()).token_logprobs == ANSWER
    assert "token_logprobs" not in Response(text="x").as_json()


def test_metrics_report_how_well_token_confidence_separates_right_from_wrong():
    from labelwise.types import Labeled
    task = make_task(TaskConfig(kind="ner", labels={"LOC": "places", "PER": "people"}))
    gold = [("O", "B-PER"), ("B-LOC", "O")]
    labeled = [Labeled(("O", "B-PER"), {"token_confidence": [0.9, 0.8]}),
               Labeled(("O", "O"), {"token_confidence": [0.1, 0.7]})]  # the wrong tag is the least sure
    m = task.metrics(gold, labeled)
    assert m["token_confidence"]["auroc"] == 1.0 and m["token_confidence"]["n_tokens"] == 4
    assert "token_confidence" not in task.metrics(gold, [Labeled(lab.label) for lab in labeled])
