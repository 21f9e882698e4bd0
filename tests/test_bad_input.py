"""Bad input through the real CLI: each ends in one line naming file, line and field, exit 2,
never a traceback and never silently wrong data (issue 15)."""
import json
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from labelwise.cli.app import app
from tests.servers import REPO_ROOT


@pytest.fixture
def project(tmp_path):
    d = tmp_path / "proj"
    r = CliRunner().invoke(app, ["init", str(d)])
    assert r.exit_code == 0, r.output
    cfg = d / "labelwise.yaml"
    cfg.write_text(cfg.read_text().replace("  backend: llamacpp ", "  backend: fake #").replace(
        "  model: qwen2.5-coder-1.5b-instruct ", '  model: "constant:negative" #'))
    return d


def cli(*args, cwd=REPO_ROOT):
    return subprocess.run([sys.executable, "-m", "labelwise.cli.app", *args], capture_output=True, text=True,
                          cwd=cwd)


def one_line_error(r) -> str:
    assert r.returncode == 2, (r.stdout, r.stderr)
    assert "Traceback" not in r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, r.stderr
    return lines[0]


def set_config(project, old, new):
    cfg = project / "labelwise.yaml"
    text = cfg.read_text()
    assert old in text
    cfg.write_text(text.replace(old, new, 1))


def test_unclosed_csv_quote(project):
    data = project / "data" / "yelp_reviews.csv"
    lines = data.read_text(encoding="utf-8").splitlines(keepends=True)
    lines[3] = '"' + lines[3].replace('"', "")  # line 4 opens a quote that is never closed
    data.write_text("".join(lines), encoding="utf-8")
    msg = one_line_error(cli("estimate", "-p", str(project)))
    assert "yelp_reviews.csv:4: a quoted cell that starts in this row runs on to line" in msg


def test_data_path_that_is_a_directory(project):
    (project / "data" / "folder.csv").mkdir()
    set_config(project, "yelp_reviews.csv", "folder.csv")
    assert "folder.csv: is a directory, name a file" in one_line_error(cli("estimate", "-p", str(project)))


def test_jsonl_object_text(project):
    (project / "data" / "d.jsonl").write_text(json.dumps({"id": "a", "text": "fine", "label": "positive"}) + "\n"
                                              + json.dumps({"id": "b", "text": {"body": "x"}, "label": "negative"}) + "\n")
    set_config(project, "yelp_reviews.csv", "d.jsonl")
    msg = one_line_error(cli("estimate", "-p", str(project)))
    assert "d.jsonl:2 (field 'text'): expected text, got a JSON object" in msg


def test_config_not_utf8(project):
    cfg = project / "labelwise.yaml"
    cfg.write_bytes(cfg.read_bytes().replace(b"task:", b"task: # caf\xe9", 1))
    msg = one_line_error(cli("estimate", "-p", str(project)))
    assert "labelwise.yaml:" in msg and "not UTF-8" in msg


def test_unclosed_yaml_quote(project):
    cfg = project / "labelwise.yaml"
    lines = cfg.read_text().splitlines(keepends=True)
    n = next(i for i, l in enumerate(lines) if l.startswith("  instructions:"))
    lines[n] = '  instructions: "Is the review positive\n'
    cfg.write_text("".join(lines))
    msg = one_line_error(cli("estimate", "-p", str(project)))
    assert f"labelwise.yaml:{n + 1}: not valid YAML:" in msg and "quoted value that starts on this line" in msg


def test_relative_template_is_read_next_to_the_config_from_any_cwd(project, tmp_path):
    source = (REPO_ROOT / "src" / "labelwise" / "tasks" / "templates" / "classify.v1.j2").read_text()
    (project / "my.j2").write_text(source)
    set_config(project, "  # template: my-template.j2", "  template: my.j2")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    r = cli("estimate", "-p", str(project), cwd=elsewhere)
    assert r.returncode == 0, r.stderr
    set_config(project, "template: my.j2", "template: missing.j2")
    msg = one_line_error(cli("estimate", "-p", str(project), cwd=elsewhere))
    n = next(i for i, l in enumerate((project / "labelwise.yaml").read_text().splitlines(), start=1)
             if l.startswith("  template: missing.j2"))
    assert f"labelwise.yaml:{n} (field 'task.template'): no template file" in msg
