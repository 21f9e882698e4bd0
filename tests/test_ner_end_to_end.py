"""NER end to end with the embedded model (smollm2-135m) on real tweets from the bundled WNUT-17
sample: annotate with retrieved examples, eval, export CoNLL, and an active-learning loop with
the CRF tagger. A 135M model makes mistakes; the tests check that every answer ends up as valid
BIO tags or as a stored error with its raw answer, never as anything in between."""
import json
from importlib import resources

import pytest
from typer.testing import CliRunner

from labelwise.cli.app import app
from labelwise.data.conll import conll_rows
from labelwise.project import Project
from labelwise.tasks.bio import check_tags

pytest.importorskip("llama_cpp")
pytestmark = [pytest.mark.real_model, pytest.mark.slow]
runner = CliRunner()
TYPES = ("person", "location", "corporation", "product", "creative-work", "group")

CONFIG = """\
task:
  kind: ner
  text_field: tokens
  instructions: Find the named entities in the tweet.
  labels:
    person: names of people
    location: places
    corporation: companies
    product: products
    creative-work: titles of books, songs, films, shows
    group: bands, teams, organisations that are not companies
data:
  path: data.jsonl
  id_field: id
  label_field: ner_tags
  split_field: split
annotator:
  model: smollm2-135m-instruct
  n_threads: 2
  n_ctx: 2048
few_shot:
  mode: nearest
  k: 2
  path: examples.jsonl
loop:
  seed_size: 6
  budget: 10
  rounds: 2
"""


def sample_rows():
    text = resources.files("labelwise").joinpath("demo_data", "wnut17_sample.jsonl").read_text(encoding="utf-8")
    return [json.loads(line) for line in text.splitlines()]


@pytest.fixture
def project(tmp_path):
    rows = sample_rows()
    (tmp_path / "labelwise.yaml").write_text(CONFIG)
    (tmp_path / "examples.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows[60:72]))
    return tmp_path, rows


def write_data(d, rows):
    (d / "data.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))


def test_annotate_eval_export_conll(project):
    d, rows = project
    data = [r for r in rows[:60] if any(t != "O" for t in r["ner_tags"])][:4]
    write_data(d, data)
    r = runner.invoke(app, ["annotate", "-p", str(d)])
    assert r.exit_code == 0, r.output
    p = Project.open(d)
    anns = p.store.annotations(p.annotator.id, p.task.template_hash)
    assert sorted(a.record_id for a in anns) == sorted(x["id"] for x in data)  # exactly one each
    by_id = {x["id"]: x for x in data}
    for a in anns:
        (call,) = p.store.calls(a)
        assert "Sentence:" in json.dumps(call["query"])  # the raw prompt is kept ...
        assert call["response"]["text"] or a.error      # ... and the raw answer
        if a.error is None:
            assert len(a.label) == len(by_id[a.record_id]["tokens"])
            assert check_tags(a.label, TYPES) == tuple(a.label)
        else:
            assert a.label is None and a.error.startswith("ParseError")
    # the retrieved examples are other sentences, with their gold answers as JSON
    q = call["query"]["messages"]
    assert [m["role"] for m in q] == ["system", "user", "assistant", "user", "assistant", "user"]
    assert "entities" in json.loads(q[2]["content"])

    out = d / "m.json"
    r = runner.invoke(app, ["eval", "-p", str(d), "--json", str(out)])
    assert r.exit_code == 0, r.output
    m = json.loads(out.read_text())
    ok = sum(a.error is None for a in anns)
    assert m["annotated"] == 4 and m["errors"] == 4 - ok and m["n_sentences"] == ok
    assert 0.0 <= m["micro"]["f1"] <= 1.0 and set(m["per_type"]) == set(TYPES)
    assert "micro-F1" in r.output
    # the embedded backend returns token log-probabilities, so every parsed answer has a confidence
    assert m["token_confidence"]["n_tokens"] == sum(len(a.label) for a in anns if a.error is None)
    assert "token confidence (from log-probabilities" in r.output

    r = runner.invoke(app, ["export", "-p", str(d), "-f", "conll"])
    assert r.exit_code == 0, r.output
    sentences = [row for _, row in conll_rows(d / "labels.conll")]
    assert len(sentences) == ok  # errors are left out, never written as O
    labeled = {tuple(a.label) for a in anns if a.error is None}
    assert {tuple(s["ner_tags"]) for s in sentences} == labeled


def test_active_learning_loop_with_crf(project):
    d, rows = project
    train = [r for r in rows if r["split"] == "train"][:24]
    test = [r for r in rows if r["split"] == "test"][:12]
    write_data(d, train + test)
    cfg = (d / "labelwise.yaml").read_text().replace("  mode: nearest", "  mode: fixed")
    (d / "labelwise.yaml").write_text(cfg)
    r = runner.invoke(app, ["loop", "-p", str(d)])
    assert r.exit_code == 0, r.output
    assert "mean_token_entropy/b10/s0/crf" in r.output and "f1" in r.output
    p = Project.open(d)
    results = [res for _, _, _, res in p.store.rounds()]
    assert [x["round"] for x in results] == [0, 1, 2]
    last = results[-1]
    assert last["llm_labels"] <= 10 and results[0]["metric"] == "f1"
    assert last["llm_errors"] < last["llm_labels"]  # some answers were usable labels (measured: most)
    assert 0.0 <= last["test"]["source"]["f1"] <= 1.0 and last["test"]["source"]["n"] == 12
    labels = [json.loads(line) for line in (d / "loop-labels.jsonl").read_text().splitlines()]
    assert len(labels) == 24
    for row in labels:
        if row["source"] == "small_model":
            assert 0.0 < row["confidence"] <= 1.0
        check_tags(row["label"], TYPES)
    r = runner.invoke(app, ["report", "-p", str(d)])
    assert r.exit_code == 0, r.output
    assert "entity F1" in (d / "report.html").read_text()
