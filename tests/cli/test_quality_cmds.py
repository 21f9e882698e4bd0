"""`labelwise annotators compare` and `labelwise leakage` on a real project folder and SQLite
file, with the scripted backend."""
import json
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from labelwise.cli.app import app

runner = CliRunner()


@pytest.fixture
def project(tmp_path):
    d = tmp_path / "proj"
    r = runner.invoke(app, ["init", str(d)])
    assert r.exit_code == 0, r.output
    cfg = d / "labelwise.yaml"
    cfg.write_text(cfg.read_text().replace("  backend: llamacpp ", "  backend: fake #").replace(
        "  model: qwen2.5-coder-1.5b-instruct ", '  model: "constant:negative" #'))
    return d


@pytest.mark.parametrize("args, words", [
    (["annotators", "--help"], ["compare"]),
    (["annotators", "compare", "--help"], ["--annotator", "--repeats", "Fleiss", "deterministic", "compare.json"]),
    (["leakage", "--help"], ["--dataset-name", "control", "shuffled", "leakage.jsonl", "95%"]),
])
def test_help_teaches(args, words):
    r = runner.invoke(app, args)
    assert r.exit_code == 0, r.output
    for w in words:
        assert w in r.output


def test_compare_writes_json_and_table(project):
    r = runner.invoke(app, ["annotators", "compare", "-p", str(project), "-a", "fake:constant:negative",
                            "-a", "fake:constant:positive", "--sample", "20", "--repeats", "2"])
    assert r.exit_code == 0, r.output
    out = json.loads((project / "compare.json").read_text())
    assert out["sample"] == 20 and out["repeats"] == 2
    neg, pos = out["annotators"]
    assert neg["annotator"] == "fake:constant:negative" and pos["annotator"] == "fake:constant:positive"
    assert neg["metrics"]["accuracy"] + pos["metrics"]["accuracy"] == pytest.approx(1.0)
    assert neg["consistency"]["all_equal"] == 1.0 and neg["runs"][1]["calls"] == 20
    assert "scripted" in r.output and "fake:constant:positive" in r.output and "compare.json" in r.output


def test_compare_default_annotator(project):
    r = runner.invoke(app, ["annotators", "compare", "-p", str(project), "-n", "5", "-k", "1"])
    assert r.exit_code == 0, r.output
    (only,) = json.loads((project / "compare.json").read_text())["annotators"]
    assert only["annotator"] == "fake:constant:negative" and only["consistency"]["pairwise"] is None


def test_leakage_writes_jsonl_and_summary(project):
    r = runner.invoke(app, ["leakage", "-p", str(project), "--n", "6", "--dataset-name", "Yelp",
                            "--dataset-name", "Yelp Review Polarity", "--seed", "2"])
    assert r.exit_code == 0, r.output
    s = json.loads((project / "leakage.json").read_text())
    assert s["records"] == 6 and s["dataset_names"] == ["Yelp", "Yelp Review Polarity"]
    rows = [json.loads(l) for l in (project / "leakage.jsonl").read_text().splitlines()]
    assert len(rows) == s["probes"] and {r["set"] for r in rows} == {"real", "control"}
    assert "names the dataset" in r.output and "completion exact" in r.output


@pytest.mark.parametrize("spec, msg", [("nocolon", "expected BACKEND:MODEL"),
                                       ("nope:m", "unknown backend 'nope'")])
def test_bad_annotator_is_one_clear_line_and_exit_2(project, spec, msg):
    r = subprocess.run([sys.executable, "-m", "labelwise.cli.app", "annotators", "compare", "-p", str(project),
                        "--annotator", spec], capture_output=True, text=True)
    assert r.returncode == 2
    assert msg in r.stderr and "Traceback" not in r.stderr and len(r.stderr.strip().splitlines()) == 1
    assert not (project / "compare.json").exists()
