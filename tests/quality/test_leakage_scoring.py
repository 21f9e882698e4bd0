"""Leakage probes, pure parts: prompts, name matching, completion scoring, rates."""
import pytest

from labelwise.quality.classification_metrics import wilson_interval
from labelwise.quality.leakage import (NAME_MAX_TOKENS, build_probes, names_dataset, normalize, rate, reading,
                                       record_text, score_completion, shuffled, split_for_completion)
from labelwise.types import Record

SST = ["SST-2", "Stanford Sentiment Treebank"]


@pytest.mark.parametrize("answer", ["SST-2", "It comes from the sst2 dataset.", "SST 2", "sst-2!",
                                    "the stanford sentiment TREEBANK", "ＳＳＴ－２"])
def test_name_hits_ignore_case_punctuation_and_width(answer):
    assert names_dataset(answer, SST)


@pytest.mark.parametrize("answer", ["", "IMDB", "SST-20", "Stanford Sentiment", "sstuff"])
def test_name_misses(answer):
    assert not names_dataset(answer, SST)


def test_name_unicode_and_no_names():
    assert names_dataset("KÄSESPÄTZLE-Korpus, sicher.", ["Käsespätzle Korpus"])
    assert not names_dataset("SST-2", [])
    assert not names_dataset("anything", ["", "!!"])  # a name with nothing left matches nothing


def test_split_for_completion():
    assert split_for_completion("a b c d e") == ("a b", "c d e")
    assert split_for_completion("one two three") is None
    prefix, truth = split_for_completion(" ".join(map(str, range(100))), max_truth_words=5)
    assert prefix.split()[-1] == "49" and truth == "50 51 52 53 54"


def test_completion_exact_near_and_miss():
    truth = "the service was slow but the food was great"
    assert score_completion(truth, truth) == {"exact": True, "near": True, "similarity": 1.0}
    longer = score_completion(truth + " and we will be back next week", truth)
    assert longer["exact"]  # running on past the sample is fine
    typo = score_completion("the service was slow but the fod was great", truth)
    assert not typo["exact"] and typo["near"] and 0.9 <= typo["similarity"] < 1
    miss = score_completion("I really cannot continue this text.", truth)
    assert not miss["exact"] and not miss["near"] and miss["similarity"] < 0.6


def test_completion_edge_cases():
    assert score_completion("", "some truth") == {"exact": False, "near": False, "similarity": 0.0}
    assert score_completion("anything", "")["exact"] is False
    assert score_completion("!!!", "...")["exact"] is False  # nothing left after normalising
    # a shorter answer is not an exact match of a longer truth
    assert not score_completion("the service", "the service was slow")["exact"]


def test_completion_unicode_and_echo():
    assert score_completion("Café Crème — Brûlée!", "café crème brûlée")["exact"]
    assert score_completion("ﬁne dining", "fine dining")["exact"]  # NFKC folds the ligature
    assert score_completion("Once upon a time there was", "there was", prefix="Once upon a time")["exact"]
    assert normalize("  Hello,\tWORLD!  ") == "hello world"


def test_shuffled_is_seeded_per_record_and_keeps_tokens():
    text = " ".join(f"w{i}" for i in range(30))
    a = shuffled(text, seed=0, key="r1")
    assert a == shuffled(text, seed=0, key="r1") and a != text
    assert sorted(a.split()) == sorted(text.split())
    assert a != shuffled(text, seed=0, key="r2") and a != shuffled(text, seed=1, key="r1")


def test_record_text_handles_strings_token_lists_and_pairs():
    assert record_text(Record("1", {"text": "hello there"}), ["text"]) == "hello there"
    assert record_text(Record("2", {"tokens": ["EU", "rejects", "German", "call"]}), ["tokens"]) == \
        "EU rejects German call"
    assert record_text(Record("3", {"a": "first", "b": "second"}), ["a", "b"]) == "first\nsecond"


def test_build_probes_real_and_control():
    long = Record("r1", {"text": "the staff were friendly and the pasta was cooked perfectly tonight"})
    short = Record("r2", {"text": "great food"})
    probes = build_probes([long, short], ["text"], seed=0)
    kinds = sorted((p["record_id"], p["set"], p["probe"]) for p in probes)
    assert kinds == sorted([("r1", s, k) for s in ("real", "control") for k in ("name", "completion")]
                           + [("r2", s, "name") for s in ("real", "control")])
    for p in probes:
        q = p["query"]
        assert q.choices is None  # free text, not a scored choice
        if p["probe"] == "name":
            assert q.max_tokens == NAME_MAX_TOKENS and "Which public dataset" in q.messages[-1].content
        else:
            assert p["prefix"] in q.messages[-1].content and p["truth"] not in q.messages[-1].content
            assert q.max_tokens >= len(p["truth"].split())
    real = next(p for p in probes if p["set"] == "real" and p["probe"] == "completion")
    control = next(p for p in probes if p["set"] == "control" and p["probe"] == "completion")
    assert real["prefix"] + " " + real["truth"] == long.fields["text"]
    assert sorted((control["prefix"] + " " + control["truth"]).split()) == sorted(long.fields["text"].split())


def test_rate_uses_wilson_and_reading():
    assert rate(5, 10) == {"hits": 5, "n": 10, "rate": 0.5, "ci95": list(wilson_interval(5, 10))}
    assert rate(0, 0)["rate"] is None and rate(0, 0)["ci95"] == [0.0, 1.0]
    assert reading(rate(10, 10), rate(0, 10)) == "above control: evidence of leakage"
    assert reading(rate(3, 10), rate(2, 10)) == "above control, within noise"
    assert reading(rate(2, 10), rate(2, 10)) == "no evidence"
    assert reading(rate(0, 0), rate(1, 10)) == "not scored"
