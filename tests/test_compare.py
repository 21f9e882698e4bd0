"""Annotator comparison: scripted backends for exact protocol checks, the tiny real model for
the invariants of a real run."""
import re
from collections import Counter

import pytest

from labelwise.annotators.fake import FakeAnnotator
from labelwise.compare import compare_annotators, consistency, parse_spec, sample_gold
from labelwise.errors import InputError
from labelwise.project import Project
from labelwise.quality.consistency import fleiss_kappa
from labelwise.types import Record
from tests.conftest import write

GOLD = {f"r{i}": ("positive" if i % 2 else "negative") for i in range(12)}
TEXT = {rid: f"review number {rid} {'loved it' if g == 'positive' else 'hated it'}" for rid, g in GOLD.items()}
FLAKY = {"r0", "r1", "r2", "r3"}


def make_project(tmp_path, extra_rows=""):
    rows = "".join(f"{rid},{TEXT[rid]},{g}\n" for rid, g in GOLD.items())
    write(tmp_path / "d.csv", "id,text,label\n" + rows + extra_rows)
    write(tmp_path / "labelwise.yaml",
          "task:\n  labels: {positive: likes it, negative: dislikes it}\n"
          "data:\n  path: d.csv\n  id_field: id\n  label_field: label\n"
          "annotator:\n  backend: fake\n  model: 'constant:negative'\n  concurrency: 2\n")
    return Project.open(tmp_path)


def record_of(query):
    content = query.messages[-1].content
    return next(rid for rid, t in TEXT.items() if t + "\n" in content + "\n")


def scripted():
    """oracle: always gold; flaky: alternates on 4 items; broken: unparsable text on 2 items."""
    seen = Counter()

    def lp(label):
        return {label: -0.1, ("negative" if label == "positive" else "positive"): -3.0}

    def flaky(q):
        rid = record_of(q)
        seen[rid] += 1
        if rid in FLAKY:
            return lp(("positive", "negative")[(seen[rid] - 1) % 2])
        return lp(GOLD[rid])

    def broken(q):
        rid = record_of(q)
        return "no idea" if rid in ("r0", "r1") else lp(GOLD[rid])

    return {"oracle": FakeAnnotator(lambda q: lp(GOLD[record_of(q)]), model="oracle"),
            "flaky": FakeAnnotator(flaky, model="flaky"), "broken": FakeAnnotator(broken, model="broken")}


def test_parse_spec():
    assert parse_spec("fake:constant:negative").model == "constant:negative"
    assert parse_spec(" llamacpp:smollm2-135m-instruct ").name == "llamacpp:smollm2-135m-instruct"
    for bad in ("llamacpp", ":m", "fake:", ""):
        with pytest.raises(InputError, match="expected BACKEND:MODEL"):
            parse_spec(bad)
    with pytest.raises(InputError, match="unknown backend 'nope'; choose one of .*llamacpp"):
        parse_spec("nope:model")


def test_sample_is_seeded_and_only_gold():
    recs = [Record(f"r{i}", {"text": "x"}, gold="a" if i % 3 else None) for i in range(30)]
    a = sample_gold(recs, 5, seed=1)
    assert len(a) == 5 and all(r.gold is not None for r in a) and a == sample_gold(recs, 5, seed=1)
    assert a != sample_gold(recs, 5, seed=2)
    assert len(sample_gold(recs, None)) == 20 and len(sample_gold(recs, 99)) == 20
    assert len(sample_gold([Record("x", {"text": "x"})], 3)) == 1  # no gold at all: consistency still runs


def test_consistency_summary():
    c = consistency([["a", "a", "a"], ["a", "b", "a"]])
    assert c["all_equal"] == 0.5 and c["pairwise"] == pytest.approx((1 + 1 / 3) / 2)
    assert c["fleiss_kappa"] == pytest.approx(fleiss_kappa([["a", "a", "a"], ["a", "b", "a"]]))
    assert consistency([[("a",), ("a",)]])["fleiss_kappa"] is None  # not single-label: no kappa
    assert consistency([["a"], ["b"]])["pairwise"] is None  # one repeat: nothing to pair


def test_three_scripted_annotators_exact(tmp_path):
    p = make_project(tmp_path)
    fakes = scripted()
    out = compare_annotators(p, ["fake:oracle", "fake:flaky", "fake:broken"], repeats=3,
                             make=lambda cfg: fakes[cfg.model])
    assert out["sample"] == 12 and out["repeats"] == 3
    res = {r["annotator"]: r for r in out["annotators"]}
    assert all(f.calls == 36 for f in fakes.values())  # 12 items x 3 repeats: a repeat asks again
    for name in ("oracle", "flaky", "broken"):
        for r in range(3):
            assert len(p.store.annotations(f"fake/{name}", p.task.template_hash, repeat=r)) == 12

    oracle = res["fake:oracle"]
    assert oracle["metrics"]["accuracy"] == 1.0 and oracle["headline"] == {"name": "accuracy", "value": 1.0}
    assert oracle["consistency"] == {"items": 12, "repeats": 3, "all_equal": 1.0, "pairwise": 1.0,
                                     "fleiss_kappa": 1.0}
    assert oracle["error_share"] == 0.0 and oracle["cost_per_item"] == 0.0 and oracle["cost_per_1000"] == 0.0
    assert oracle["tokens_per_item"] > 10 and oracle["repeats_kind"] == "scripted"

    flaky = res["fake:flaky"]
    assert flaky["metrics"]["accuracy"] == pytest.approx(10 / 12)  # r0, r2 first answered positive
    assert flaky["consistency"]["all_equal"] == pytest.approx(8 / 12)
    assert flaky["consistency"]["pairwise"] == pytest.approx((8 + 4 * (1 / 3)) / 12)
    rows = [[GOLD[r]] * 3 for r in GOLD if r not in FLAKY] + [["positive", "negative", "positive"]] * 4
    assert flaky["consistency"]["fleiss_kappa"] == pytest.approx(fleiss_kappa(rows))

    broken = res["fake:broken"]
    assert broken["error_share"] == pytest.approx(2 / 12) and broken["metrics"]["n"] == 10
    assert broken["consistency"]["all_equal"] == 1.0  # failing the same way every time is consistent

    again = compare_annotators(p, ["fake:flaky"], repeats=3, make=lambda cfg: fakes[cfg.model])
    assert fakes["flaky"].calls == 36  # everything was stored: nothing asked twice
    assert [r["already_done"] for r in again["annotators"][0]["runs"]] == [12, 12, 12]


def test_default_is_the_projects_annotator_and_sample(tmp_path):
    p = make_project(tmp_path, extra_rows="x1,an unlabeled one,\n")
    out = compare_annotators(p, sample=6, repeats=2, seed=3)
    (r,) = out["annotators"]
    assert r["annotator"] == "fake:constant:negative" and r["items"] == 6
    assert "x1" not in out["sample_ids"] and out["with_gold"] == 6
    negatives = sum(GOLD[i] == "negative" for i in out["sample_ids"])
    assert r["metrics"]["accuracy"] == pytest.approx(negatives / 6)
    assert len(p.store.annotations("fake/constant:negative", p.task.template_hash, repeat=1)) == 6


def test_budget_stop_is_reported(tmp_path):
    p = make_project(tmp_path)
    cfg = (tmp_path / "labelwise.yaml")
    cfg.write_text(cfg.read_text() + "budget:\n  calls: 15\n")
    p = Project.open(tmp_path)
    fakes = scripted()
    out = compare_annotators(p, ["fake:oracle"], repeats=3, make=lambda c: fakes[c.model])
    r = out["annotators"][0]
    assert fakes["oracle"].calls == 15 and "budget for requests reached" in r["stopped"]
    assert r["repeats_done"] == 2 and r["consistency"]["items"] == 3  # only items done in both runs


def test_multilabel_labels_are_compared_as_tuples(tmp_path):
    gold = {"m0": "alpha|beta", "m1": "gamma", "m2": "beta"}
    write(tmp_path / "d.csv", "id,text,label\n" + "".join(f"{k},text {k},{v}\n" for k, v in gold.items()))
    write(tmp_path / "labelwise.yaml",
          "task:\n  kind: multilabel\n  labels: {alpha: a, beta: b, gamma: c}\n"
          "data:\n  path: d.csv\n  id_field: id\n  label_field: label\n"
          "annotator:\n  backend: fake\n")
    p = Project.open(tmp_path)

    def answer(q):
        rid = re.search(r"text (m\d)", q.messages[-1].content).group(1)
        label = re.search(r'label "(\w+)"', q.messages[-1].content).group(1)
        return {"yes": -0.1, "no": -3.0} if label in gold[rid] else {"yes": -3.0, "no": -0.1}

    out = compare_annotators(p, ["fake:ml"], repeats=2, make=lambda c: FakeAnnotator(answer, model="ml"))
    r = out["annotators"][0]
    assert r["metrics"]["subset_accuracy"] == 1.0 and r["headline"]["name"] == "accuracy"
    assert r["consistency"]["all_equal"] == 1.0 and r["consistency"]["fleiss_kappa"] is None
    assert p.store.annotations("fake/ml", p.task.template_hash, repeat=1)[0].label == ("alpha", "beta")


@pytest.mark.real_model
def test_real_model_repeats_are_stored_and_identical(tmp_path):
    pytest.importorskip("llama_cpp")
    p = make_project(tmp_path)
    cfg = tmp_path / "labelwise.yaml"
    cfg.write_text(cfg.read_text() + "  n_ctx: 1024\n  n_threads: 2\n")
    p = Project.open(tmp_path)
    out = compare_annotators(p, ["llamacpp:smollm2-135m-instruct"], sample=4, repeats=2)
    r = out["annotators"][0]
    assert r["annotator_id"] == "llamacpp/smollm2-135m-instruct" and r["items"] == 4
    for rep in range(2):
        anns = p.store.annotations(r["annotator_id"], p.task.template_hash, repeat=rep)
        assert len(anns) == 4 and all(a.latency_s > 0 and a.prompt_tokens > 20 for a in anns)
    assert [run["calls"] for run in r["runs"]] == [4, 4]  # the repeat really asked the model again
    assert 0.0 <= r["metrics"]["accuracy"] <= 1.0 and r["error_share"] == 0.0
    assert r["consistency"]["all_equal"] == 1.0  # scored choices: deterministic by construction
    assert r["repeats_kind"] == "deterministic" and "greedily" in r["repeats_note"]
    assert r["seconds_per_item"] > 0 and r["cost_per_1000"] == 0.0


def test_vary_examples_gives_each_repeat_other_examples_and_says_so(tmp_path):
    """A deterministic backend repeats itself; with --vary-examples repeat 0 keeps the configured
    examples and each later repeat draws its own, so consistency measures sensitivity to them."""
    p = make_project(tmp_path)
    ex = "".join(f"e{i},example sentence {i},{'positive' if i % 3 else 'negative'}\n" for i in range(12))
    write(tmp_path / "ex.csv", "id,text,label\n" + ex)
    cfg = (tmp_path / "labelwise.yaml").read_text() + "few_shot: {mode: fixed, k: 2, path: ex.csv}\n"
    write(tmp_path / "labelwise.yaml", cfg)
    p = Project.open(tmp_path)
    shown: dict[int, set] = {}
    calls = Counter()

    def copy_first_example(q):  # answers the label of the first example it was shown
        first_example = q.messages[1].content
        rid = record_of(q)
        calls[rid] += 1
        shown.setdefault(calls[rid] - 1, set()).add(first_example)
        label = "positive" if int(re.search(r"example sentence (\d+)", first_example).group(1)) % 3 else "negative"
        return {label: -0.1, ("negative" if label == "positive" else "positive"): -3.0}

    ann = FakeAnnotator(copy_first_example, model="copier")
    out = compare_annotators(p, ["fake:copier"], repeats=3, vary_examples=True, make=lambda cfg: ann)
    assert len(shown[0]) == 1  # fixed examples: the same first example for every item
    assert shown[1] != shown[0] and shown[2] != shown[1]  # random draws, seeds 1 and 2
    [row] = out["annotators"]
    assert row["repeats_kind"] == "examples varied" and "seeds 1..2" in row["repeats_note"]
    assert row["consistency"]["all_equal"] < 1.0 and out["vary_examples"] is True
    with pytest.raises(InputError, match="needs few-shot examples"):
        compare_annotators(make_project(tmp_path / "none"), repeats=2, vary_examples=True)
