"""Leakage probes end to end: a scripted model that 'memorised' the data for exact checks, the
tiny real model for the invariants of a real run."""
import json

import pytest

from labelwise.annotators.fake import FakeAnnotator
from labelwise.errors import AnnotatorError
from labelwise.leakage import probe_leakage, sample_records
from labelwise.project import Project
from labelwise.types import Record
from tests.conftest import write

TEXTS = [f"sample {i} the kitchen staff served a lovely dish number {i} and then the evening ended quietly"
         for i in range(10)]


def make_project(tmp_path, extra=""):
    write(tmp_path / "d.csv", "id,text,label\n" + "".join(f"r{i},{t},positive\n" for i, t in enumerate(TEXTS)))
    write(tmp_path / "labelwise.yaml",
          "task:\n  labels: {positive: likes it, negative: dislikes it}\n"
          "data:\n  path: d.csv\n  id_field: id\n  label_field: label\n"
          "annotator:\n  backend: fake\n  concurrency: 3\n" + extra)
    return Project.open(tmp_path)


def memoriser(q):
    """Names SST-2 and continues verbatim for real samples; guesses IMDB on shuffled ones."""
    user = q.messages[-1].content
    if "Which public dataset" in user:
        return "This is from SST-2." if any(t in user for t in TEXTS) else "IMDB, probably"
    prefix = user.split("Beginning: ", 1)[1]
    full = next((t for t in TEXTS if t.startswith(prefix + " ")), None)
    return full[len(prefix) + 1:] + " and more" if full else "I do not know this text."


def lines(path):
    return [json.loads(l) for l in path.read_text(encoding="utf-8").splitlines()]


def test_memorising_model_is_caught_and_control_stays_clean(tmp_path):
    p = make_project(tmp_path)
    fake = FakeAnnotator(memoriser, model="memo")
    s = probe_leakage(p, n=10, dataset_names=["sst2"], annotator=fake)
    assert s["records"] == 10 and s["probes"] == 40 and s["answered"] == 40 and fake.calls == 40
    for metric in ("name_hit", "completion_exact", "completion_near"):
        row = s["rates"][metric]
        assert row["real"]["rate"] == 1.0 and row["control"]["rate"] == 0.0 and row["control"]["n"] == 10
        assert row["reading"] == "above control: evidence of leakage"
    assert s["name_answers_real"] == [["This is from SST-2.", 10]]
    rows = lines(tmp_path / "leakage.jsonl")
    assert len(rows) == 40 and json.loads((tmp_path / "leakage.json").read_text())["probes"] == 40
    comp = next(r for r in rows if r["probe"] == "completion" and r["set"] == "real")
    assert comp["prompt"][-1]["role"] == "user" and "Beginning: " in comp["prompt"][-1]["content"]
    assert comp["response"].endswith(" and more") and comp["score"]["exact"] and comp["truth"]
    assert not p.store.annotations(repeat=None)  # probes are not annotations
    assert p.store.spent()["calls"] == 40  # ... but every paid call is in the ledger


def test_rerun_replays_the_cache_and_costs_nothing(tmp_path):
    p = make_project(tmp_path)
    first = probe_leakage(p, n=5, dataset_names=["SST-2"], annotator=FakeAnnotator(memoriser, model="memo"))
    fake = FakeAnnotator(memoriser, model="memo")
    again = probe_leakage(p, n=5, dataset_names=["SST-2"], annotator=fake)
    assert fake.calls == 0 and again["paid_calls"] == 0 and first["paid_calls"] == 20
    assert again["rates"] == first["rates"]
    assert all(r["from_cache"] for r in lines(tmp_path / "leakage.jsonl"))


def test_without_names_the_name_probe_is_asked_but_not_scored(tmp_path):
    p = make_project(tmp_path)
    s = probe_leakage(p, n=3, annotator=FakeAnnotator(memoriser, model="memo"))
    assert s["rates"]["name_hit"]["real"]["n"] == 0 and s["rates"]["name_hit"]["reading"] == "not scored"
    assert s["rates"]["completion_exact"]["real"]["n"] == 3
    names = [r for r in lines(tmp_path / "leakage.jsonl") if r["probe"] == "name"]
    assert len(names) == 6 and all(r["response"] and r["score"] is None for r in names)


def test_budget_and_failures_leave_probes_unscored(tmp_path):
    p = make_project(tmp_path, extra="budget:\n  calls: 7\n")

    def flaky(q):
        if "sample 1 " in q.messages[-1].content and "Which public" in q.messages[-1].content:
            raise AnnotatorError("server said no")
        return memoriser(q)

    s = probe_leakage(p, n=10, dataset_names=["SST-2"], annotator=FakeAnnotator(flaky, model="f"))
    assert p.store.spent()["calls"] <= 7 and s["errors"] == 40 - s["answered"] and s["answered"] <= 7
    rows = lines(tmp_path / "leakage.jsonl")
    assert any(r["error"] and r["error"].startswith("not asked: budget for requests reached") for r in rows)
    scored = sum(v["n"] for m in s["rates"].values() for k, v in m.items() if k in ("real", "control"))
    assert scored <= 7 * 2  # completion exact and near share one answer; failures are never scored


def test_sample_records_is_seeded_and_skips_empty_text():
    recs = [Record(f"r{i}", {"text": "" if i == 0 else f"t {i}"}) for i in range(20)]
    a = sample_records(recs, ["text"], 5, seed=4)
    assert len(a) == 5 and a == sample_records(recs, ["text"], 5, seed=4) and "r0" not in [r.id for r in a]
    assert len(sample_records(recs, ["text"], 50, seed=0)) == 19
    tokens = [Record("n1", {"tokens": ["EU", "rejects", "German", "call", "to", "boycott"]})]
    assert sample_records(tokens, ["tokens"], 1, 0) == tokens  # NER token lists are text too


@pytest.mark.real_model
def test_real_model_probe_keeps_prompts_and_rates_are_sane(tmp_path):
    pytest.importorskip("llama_cpp")
    p = make_project(tmp_path, extra="  model: smollm2-135m-instruct\n  n_ctx: 1024\n  n_threads: 2\n")
    yaml = (tmp_path / "labelwise.yaml").read_text().replace("backend: fake", "backend: llamacpp")
    (tmp_path / "labelwise.yaml").write_text(yaml)
    p = Project.open(tmp_path)
    s = probe_leakage(p, n=2, dataset_names=["SST-2", "Stanford Sentiment Treebank"], seed=1)
    assert s["annotator"] == "llamacpp/smollm2-135m-instruct" and s["answered"] == s["probes"] == 8
    for m in s["rates"].values():
        for which in ("real", "control"):
            assert m[which]["n"] == 2 and 0.0 <= m[which]["rate"] <= 1.0
            lo, hi = m[which]["ci95"]
            assert 0.0 <= lo <= m[which]["rate"] <= hi <= 1.0
    rows = lines(tmp_path / "leakage.jsonl")
    assert {r["set"] for r in rows} == {"real", "control"}
    for r in rows:
        assert "<|im_start|>assistant" in r["rendered_prompt"]  # the exact text the model saw
        assert r["prompt"] and r["response"] is not None and r["usage"]["completion_tokens"] >= 1
        assert (r["probe"] == "completion") == ("exact" in r["score"])
    assert not p.store.annotations(repeat=None)
