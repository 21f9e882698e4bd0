"""The CLI flow on a real project folder and SQLite file, with the scripted backend."""
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
    text = cfg.read_text().replace("  backend: llamacpp ", "  backend: fake #").replace(
        "  model: qwen2.5-coder-1.5b-instruct ", '  model: "constant:negative" #')
    cfg.write_text(text)
    return d


def test_help_teaches_the_flow():
    r = runner.invoke(app, ["--help"])
    assert r.exit_code == 0 and "labelwise init" in r.output and "estimate" in r.output


def test_init_estimate_annotate_eval_export(project):
    r = runner.invoke(app, ["estimate", "-p", str(project)])
    assert r.exit_code == 0, r.output
    assert "200 (0 already annotated, 200 to do)" in r.output and "200 new" in r.output
    r = runner.invoke(app, ["annotate", "-p", str(project), "--limit", "50"])
    assert r.exit_code == 0, r.output
    assert "annotated 50 item(s)" in r.output
    r = runner.invoke(app, ["estimate", "-p", str(project)])
    assert "50 already annotated, 150 to do" in r.output
    r = runner.invoke(app, ["annotate", "-p", str(project)])
    assert "annotated 150 item(s)" in r.output and "(50 were already done)" in r.output
    out = project / "m.json"
    r = runner.invoke(app, ["eval", "-p", str(project), "--json", str(out)])
    assert r.exit_code == 0, r.output
    m = json.loads(out.read_text())
    # the constant answer is right exactly on the negative gold items of the bundled sample
    assert m["n"] == 200 and m["per_class"]["negative"]["recall"] == 1.0
    assert m["accuracy"] == m["per_class"]["negative"]["support"] / 200
    for fmt in ("jsonl", "csv", "parquet"):
        r = runner.invoke(app, ["export", "-p", str(project), "-f", fmt])
        assert r.exit_code == 0, r.output
        assert (project / f"labels.{fmt}").stat().st_size > 0
    rows = [json.loads(l) for l in (project / "labels.jsonl").read_text().splitlines()]
    assert len(rows) == 200 and rows[0]["label"] == "negative" and rows[0]["gold"] in ("positive", "negative")


def test_bad_config_is_one_clear_line_and_exit_2(project):
    cfg = project / "labelwise.yaml"
    cfg.write_text(cfg.read_text().replace("  k: 4", "  k: 4\n  kk: 5"))
    r = subprocess.run([sys.executable, "-m", "labelwise.cli.app", "annotate", "-p", str(project)],
                       capture_output=True, text=True)
    assert r.returncode == 2
    assert "labelwise.yaml:" in r.stderr and "few_shot.kk" in r.stderr and "Traceback" not in r.stderr


def test_bad_data_names_file_line_field(project):
    (project / "data" / "yelp_reviews.csv").open("a").write("y999,,positive\n")
    r = subprocess.run([sys.executable, "-m", "labelwise.cli.app", "annotate", "-p", str(project)],
                       capture_output=True, text=True)
    assert r.returncode == 2 and "yelp_reviews.csv:202 (field 'text'): empty text" in r.stderr.replace("\n", "")


@pytest.mark.real_model
def test_loop_and_report_commands(project):
    data = project / "data" / "yelp_reviews.csv"
    lines = data.read_text().splitlines()
    data.write_text("\n".join([lines[0] + ",split"] + [l + (",test" if i >= 150 else ",pool")
                                                        for i, l in enumerate(lines[1:])]) + "\n")
    cfg = project / "labelwise.yaml"
    cfg.write_text(cfg.read_text().replace("  # split_field: split", "").replace(
        "  label_field: label ", "  split_field: split\n  label_field: label ") + "loop:\n  seed_size: 20\n  stable_change: 1.0\n")
    r = runner.invoke(app, ["loop", "-p", str(project), "--strategy", "entropy", "--budget", "30", "--rounds", "1"])
    assert r.exit_code == 0, r.output
    assert "labels for all 150 pool items" in r.output and "(30 from the LLM, 120 from the small model)" in r.output
    assert "changed its predicted label" not in r.output  # the stability rule is off by default
    # with the rule on (and a threshold any change meets), the loop stops after one comparable round
    r = runner.invoke(app, ["loop", "-p", str(project), "--strategy", "margin", "--budget", "60", "--rounds", "4",
                            "--stable-rounds", "1"])
    assert r.exit_code == 0, r.output
    out = " ".join(r.output.split())  # rich wraps long lines
    assert "predictions are stable, stopping before the budget is spent" in out
    assert "(30 from the LLM, 120 from the small model)" in out
    r = runner.invoke(app, ["report", "-p", str(project)])
    assert r.exit_code == 0, r.output
    assert (project / "report.html").read_text().count("data:image/png;base64,") == 1
    assert (project / "report.json").exists()


def test_init_ner_starter_is_a_valid_project(tmp_path):
    from labelwise.project import Project
    d = tmp_path / "ner"
    r = runner.invoke(app, ["init", str(d), "--task", "ner"])
    assert r.exit_code == 0, r.output
    p = Project.open(d)
    records = p.read_data()
    assert p.task.kind == "ner" and len(records) == 120
    assert all(len(r.gold) == len(r.fields["tokens"]) for r in records)
    assert sum(r.split == "test" for r in records) == 40
    r = runner.invoke(app, ["init", str(tmp_path / "x"), "--task", "ranking"])
    assert r.exit_code != 0 and "no starter" in r.output
