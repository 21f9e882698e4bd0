"""Argilla v2 export for every task kind, loaded and checked by the real Argilla SDK (in the
interchange venv, .venv-ls: see argilla_validate.py for exactly what it checks)."""
import copy
import json
import shutil
import subprocess
from pathlib import Path

import pytest
from typer.testing import CliRunner

from labelwise.cli.app import app
from labelwise.data.argilla import user_id
from tests.conftest import write
from tests.review.test_browser import ner_project
from tests.review.test_label_studio import LS_PYTHON, add_human, classification

VALIDATE = Path(__file__).with_name("argilla_validate.py")


def validate(folder: Path) -> dict:
    if not LS_PYTHON.exists():
        pytest.skip("no .venv-ls with the argilla SDK (scripts/setup.sh makes it)")
    r = subprocess.run([str(LS_PYTHON), str(VALIDATE), str(folder)], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    return json.loads(r.stdout.strip().splitlines()[-1])


def relevance_project(tmp):
    from labelwise import Project
    from labelwise.annotators.fake import FakeAnnotator
    write(tmp / "pairs.csv", "id,query,document\n" + "".join(f"p{i},query {i % 2},document {i}\n" for i in range(6)))
    write(tmp / "labelwise.yaml", "task: {kind: relevance, text_field: query, text_pair_field: document}\n"
          "data: {path: pairs.csv, id_field: id}\nannotator: {backend: fake, model: grader}\n")
    p = Project.open(tmp)
    p.__dict__["annotator"] = FakeAnnotator(lambda q: {c: (-0.2 if c == "2" else -3.0) for c in q.choices}, model="grader")
    p.run(watch_gold=False)
    return p


HUMAN_LABEL = {"ner": ["B-person", "O", "B-location", "I-location", "O"], "multilabel": ["positive", "mixed"],
               "relevance": "3"}


@pytest.mark.external
@pytest.mark.parametrize("kind", ["classification", "multilabel", "pair", "ner", "relevance"])
def test_exported_folder_loads_and_validates_with_the_argilla_sdk(tmp_path, kind):
    p = (ner_project(tmp_path) if kind == "ner" else relevance_project(tmp_path) if kind == "relevance"
         else classification(tmp_path, kind))
    rid = p.read_data()[0].id
    add_human(p, rid, "alice", HUMAN_LABEL.get(kind, list(p.task.labels)[-1]))
    r = CliRunner().invoke(app, ["export", "-p", str(tmp_path), "--format", "argilla"])
    assert r.exit_code == 0, r.output
    folder = tmp_path / "labels_argilla"
    records = json.loads((folder / "records.json").read_text())
    assert len(records) == len(p.read_data()) and all(r["suggestions"]["label"]["agent"] == p.annotator.id  # fake/llm: the stored answers
                                                      for r in records)
    answered = [r for r in records if r["responses"]]
    assert [r["id"] for r in answered] == [rid] and answered[0]["status"] == "completed"
    assert answered[0]["responses"]["label"][0]["user_id"] == user_id("alice")
    got = validate(folder)
    assert got["bad"] == [] and got["records"] == len(records) and got["questions"] == ["label"]
    assert got["suggestions"] == len(records) and got["responses"] == 1
    if kind == "ner":
        assert got["fields"] == ["text"]
        text = answered[0]["fields"]["text"]
        said = {"alice": answered[0]["responses"]["label"][0]["value"], "llm": answered[0]["suggestions"]["label"]["value"]}
        assert [(text[s["start"]:s["end"]], s["label"]) for s in said["alice"]] == [("Maria", "person"), ("New York", "location")]
        assert [(text[s["start"]:s["end"]], s["label"]) for s in said["llm"]] == [("Maria", "person"), ("York", "location")]
        assert all(r["metadata"]["needs_review"] == "yes" for r in records)  # the project queued them
    if kind == "relevance":
        assert records[1]["suggestions"]["label"]["value"] == 2 and got["fields"] == ["query", "document"]
    broken = tmp_path / "broken"  # the check can fail: a suggestion outside the question's options
    shutil.copytree(folder, broken)
    bad = copy.deepcopy(records)
    s = bad[1]["suggestions"]["label"]
    s["value"] = ([{"label": "no-such-type", "start": 0, "end": 1}] if kind == "ner" else 9 if kind == "relevance"
                  else ["no-such-label"] if kind == "multilabel" else "no-such-label")
    (broken / "records.json").write_text(json.dumps(bad))
    assert validate(broken)["bad"] == [[bad[1]["id"], "suggestion", p.annotator.id]]


def test_export_refuses_a_folder_that_is_not_an_argilla_export_and_reexports_in_place(tmp_path):
    classification(tmp_path)
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep me")
    r = CliRunner().invoke(app, ["export", "-p", str(tmp_path), "-f", "argilla", "-o", str(tmp_path / "mine")])
    assert r.exit_code != 0 and "not an Argilla export" in str(r.exception)  # main() prints it as an error
    assert (tmp_path / "mine" / "notes.txt").read_text() == "keep me"
    for _ in range(2):  # a second export replaces the first
        assert CliRunner().invoke(app, ["export", "-p", str(tmp_path), "-f", "argilla"]).exit_code == 0
    assert len(json.loads((tmp_path / "labels_argilla" / "records.json").read_text())) == 6
    r = CliRunner().invoke(app, ["export", "-p", str(tmp_path), "-f", "argila"])
    assert r.exit_code != 0 and "argilla" in r.output
