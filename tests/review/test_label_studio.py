"""Label Studio interchange on real projects: exported tasks and configs for every task kind
validated by the real label-studio-sdk (in its own venv: it pins numpy), and an export read
back as people's annotations that eval and quality then use."""
import copy
import json
import math
import subprocess
from pathlib import Path

import pytest
from typer.testing import CliRunner

from labelwise import Project
from labelwise.annotators.fake import FakeAnnotator
from labelwise.cli.app import app
from labelwise.data.labelstudio import config_for, label_of, result_of
from labelwise.review.answers import human_annotation
from tests.conftest import write
from tests.review.test_browser import ner_project

LS_PYTHON = Path(__file__).resolve().parents[2] / ".venv-ls" / "bin" / "python"
VALIDATE = Path(__file__).with_name("ls_validate.py")


def validate(tasks_file: Path) -> dict:
    if not LS_PYTHON.exists():
        pytest.skip("no .venv-ls with label-studio-sdk (scripts/setup.sh makes it)")
    r = subprocess.run([str(LS_PYTHON), str(VALIDATE), str(tasks_file), str(tasks_file.with_suffix(".xml"))],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    return json.loads(r.stdout.strip().splitlines()[-1])


def classification(tmp, kind="classification"):
    labels = "{positive: likes it, negative: dislikes it, mixed: both}"
    if kind == "pair":
        write(tmp / "data.csv", "id,a,b\n" + "".join(f"p{i},first {i},second {i}\n" for i in range(6)))
        task = "task: {kind: pair, text_field: a, text_pair_field: b, labels: {\"yes\": same, \"no\": different}}"
    else:
        write(tmp / "data.csv", "id,text\n" + "".join(f"r{i},text number {i}\n" for i in range(6)))
        task = f"task: {{kind: {kind}, labels: {labels}}}"
    write(tmp / "labelwise.yaml", task + "\ndata: {path: data.csv, id_field: id}\nannotator: {backend: fake, model: llm}\n")
    p = Project.open(tmp)
    first = list(p.task.labels)[0]
    p.__dict__["annotator"] = FakeAnnotator(lambda q: {c: math.log(0.7 if c == first else 0.3 / max(1, len(q.choices) - 1))
                                                       for c in q.choices} if q.choices else first, model="llm")
    p.run(watch_gold=False)
    return p


def add_human(p, rid, who, label):
    rec = next(r for r in p.read_data() if r.id == rid)
    p.store.put_human_answer(human_annotation(p.task, rec, who, p.task.normalize_gold(label), 3.0, 0.1), who, None)


@pytest.mark.external
@pytest.mark.parametrize("kind", ["classification", "multilabel", "pair", "ner", "relevance"])
def test_exported_tasks_and_config_validate_with_label_studio_sdk(tmp_path, kind):
    from tests.review.test_argilla import relevance_project
    p = (ner_project(tmp_path) if kind == "ner" else relevance_project(tmp_path) if kind == "relevance"
         else classification(tmp_path, kind))
    rid = p.read_data()[0].id
    add_human(p, rid, "alice", ["B-person", "O", "B-location", "I-location", "O"] if kind == "ner" else
              (["positive", "mixed"] if kind == "multilabel" else list(p.task.labels)[-1]))
    if kind in ("pair", "relevance"):  # both texts are shown to the person
        assert '<Text name="text_b" value="$' in config_for(p.task)
    r = CliRunner().invoke(app, ["export", "-p", str(tmp_path), "--format", "label-studio"])
    assert r.exit_code == 0, r.output
    out = tmp_path / "labels.json"
    tasks = json.loads(out.read_text())
    assert all(t["predictions"][0]["model_version"] == p.annotator.id for t in tasks)
    assert [t for t in tasks if t.get("annotations")][0]["data"]["record_id"] == rid
    got = validate(out)
    assert got["config_ok"] and got["bad"] == [] and got["tasks"] == len(tasks)
    assert got["predictions"] == len(tasks) and got["annotations"] == 1
    broken = copy.deepcopy(tasks)  # the check can fail: a label outside the config
    v = broken[0]["predictions"][0]["result"][0]["value"]
    v["labels" if kind == "ner" else "choices"] = ["no-such-label"]
    (tmp_path / "broken.json").write_text(json.dumps(broken))
    (tmp_path / "broken.xml").write_text((tmp_path / "labels.xml").read_text())
    assert validate(tmp_path / "broken.json")["bad"] == [[0, "prediction", p.annotator.id]]


def test_ner_spans_round_trip_through_character_offsets():
    tokens = ["Maria", "visited", "New", "York", "today"]
    tags = ["B-person", "O", "B-location", "I-location", "O"]
    res = result_of("ner", tags, tokens)
    assert [r["value"]["text"] for r in res] == ["Maria", "New York"]
    assert label_of("ner", res, tokens) == tags
    res[1]["value"]["start"] += 1  # a span that starts inside a word still takes the word
    assert label_of("ner", res, tokens) == tags


def test_import_a_label_studio_export_as_human_annotations(tmp_path):
    p = classification(tmp_path)
    assert CliRunner().invoke(app, ["export", "-p", str(tmp_path), "-f", "label-studio"]).exit_code == 0
    tasks = json.loads((tmp_path / "labels.json").read_text())
    for i, t in enumerate(tasks):  # what Label Studio's JSON export gives after two people worked
        t["id"] = 100 + i
        t["annotations"] = [{"completed_by": {"email": "carol@example.org"}, "lead_time": 4.5,
                             "result": result_of("classification", "negative")},
                            {"completed_by": 7, "was_cancelled": True, "result": result_of("classification", "mixed")}]
    tasks[0]["annotations"].append({"completed_by": {"email": "dan@example.org"}, "lead_time": 2.0,
                                    "result": result_of("classification", "mixed")})
    exp = tmp_path / "ls-export.json"
    exp.write_text(json.dumps(tasks))
    r = CliRunner().invoke(app, ["import", str(exp), "-p", str(tmp_path), "--format", "label-studio"])
    assert r.exit_code == 0, r.output
    assert "imported 7 answer(s) by 2 people (carol, dan)" in r.output
    carol = {a.record_id: a for a in p.store.annotations(annotator_id="human/carol")}
    assert len(carol) == 6 and {a.label for a in carol.values()} == {"negative"} and carol["r0"].latency_s == 4.5
    again = CliRunner().invoke(app, ["import", str(exp), "-p", str(tmp_path)])
    assert again.exit_code == 0 and len(p.store.annotations(annotator_id="human/carol")) == 6  # replaced, not doubled
    q = CliRunner().invoke(app, ["quality", "-p", str(tmp_path), "--no-issues", "--near-duplicates", "1"])
    assert q.exit_code == 0, q.output
    agree = json.loads((tmp_path / "quality.json").read_text())["agreement"]
    assert {"human/carol", "human/dan", "fake/llm"} <= set(agree["annotators"])
    tasks[1]["data"]["record_id"] = "nope"
    exp.write_text(json.dumps(tasks))
    bad = subprocess.run([str(Path(__import__("sys").executable)), "-m", "labelwise.cli.app", "import", str(exp), "-p",
                          str(tmp_path)], capture_output=True, text=True)
    assert bad.returncode == 2 and "ls-export.json" in bad.stderr and "task 1: record 'nope'" in bad.stderr
