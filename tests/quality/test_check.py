"""`labelwise check` on a real project file with scripted annotators: candidates scored on the
same gold sample through the engine, exact bounds, verdicts, the cheapest that meets the target
recommended, and the answers reused by `annotate`."""
import json
import math

import pytest
from typer.testing import CliRunner

from labelwise import Project
from labelwise.annotators import base as annotators_base
from labelwise.annotators.fake import FakeAnnotator
from labelwise.cli.app import app
from labelwise.quality.check import gold_sample, recommend, verdict
from labelwise.quality.gold_watch import accuracy_bounds
from tests.conftest import write


def test_verdicts_and_the_recommendation():
    assert verdict(0.91, 0.99, 0.9) == "meets" and verdict(0.5, 0.8, 0.9) == "below"
    assert verdict(0.8, 0.95, 0.9) == "undecided" and verdict(0.1, 0.2, None) == "-"
    rows = [{"candidate": "big", "n": 50, "accuracy": 0.98, "lower": 0.92, "upper": 1.0, "verdict": "meets",
             "money_per_item": 0.01, "seconds_per_item": 1.0},
            {"candidate": "small", "n": 50, "accuracy": 0.96, "lower": 0.91, "upper": 0.99, "verdict": "meets",
             "money_per_item": 0.001, "seconds_per_item": 0.5},
            {"candidate": "bad", "n": 50, "accuracy": 0.5, "lower": 0.38, "upper": 0.62, "verdict": "below",
             "money_per_item": 0.0, "seconds_per_item": 0.1}]
    best, why = recommend(rows)
    assert best["candidate"] == "small" and "cheapest" in why
    best, why = recommend([rows[2]])
    assert best["candidate"] == "bad" and "none is shown to meet" in why


@pytest.fixture
def proj(tmp_path, monkeypatch):
    write(tmp_path / "data.csv", "id,text,label\n" + "".join(
        f"d{i},review {i} {'great' if i % 2 else 'awful'},{'positive' if i % 2 else 'negative'}\n" for i in range(120)))
    write(tmp_path / "labelwise.yaml", """
task:
  kind: classification
  labels: {positive: likes it, negative: dislikes it}
data: {path: data.csv, id_field: id, label_field: label}
annotator: {backend: fake, model: "constant:positive", concurrency: 1}
gold: {target: 0.9}
""")

    def right(q):
        text = q.messages[-1].content
        good = "positive" if "great" in text else "negative"
        return {good: math.log(0.95), ("negative" if good == "positive" else "positive"): math.log(0.05)}

    fakes = {"good": FakeAnnotator(right, model="good")}
    real = annotators_base.make_annotator

    def make(cfg):
        return fakes[cfg.model] if cfg.model in fakes else real(cfg)
    monkeypatch.setattr(annotators_base, "make_annotator", make)
    import labelwise.project as project_module
    monkeypatch.setattr(project_module, "make_annotator", make)
    return tmp_path, fakes


def test_check_scores_each_candidate_and_annotate_reuses_the_answers(proj):
    tmp, fakes = proj
    r = CliRunner().invoke(app, ["check", "-p", str(tmp), "--n", "60", "--models", "fake:constant:positive,fake:good"])
    assert r.exit_code == 0, r.output
    out = json.loads((tmp / "check.json").read_text())
    const, good = out["rows"]
    positives = sum(r.gold == "positive" for r in gold_sample(Project.open(tmp).read_data(), 60, 0))
    assert const["n"] == good["n"] == 60 and const["accuracy"] == pytest.approx(positives / 60)
    assert (const["lower"], const["upper"]) == pytest.approx(accuracy_bounds(positives, 60, 0.05))
    assert const["verdict"] == "below" and good["verdict"] == "meets" and good["accuracy"] == 1.0
    assert out["recommended"] == "fake:good few_shot=none" and fakes["good"].calls == 60
    cfg = tmp / "labelwise.yaml"
    cfg.write_text(cfg.read_text().replace('model: "constant:positive"', "model: good"))
    a = CliRunner().invoke(app, ["annotate", "-p", str(tmp)])
    assert a.exit_code == 0, a.output
    assert fakes["good"].calls == 120 and Project.open(tmp).store.spent()["calls"] == 180  # the 60 checked: reused


def test_no_candidate_meeting_the_target_exits_6(proj):
    tmp, _ = proj
    r = CliRunner().invoke(app, ["check", "-p", str(tmp), "--n", "40"])
    assert r.exit_code == 6, r.output
    assert "none is shown to meet the target" in " ".join(r.output.split())
    bad = CliRunner().invoke(app, ["check", "-p", str(tmp), "--calibrate", "maybe"])
    assert bad.exit_code == 2 and "off, on" in bad.output
