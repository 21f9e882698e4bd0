"""The README's two commands: the ones shown are the ones run, and the demo works end to end
with the real embedded model (the tiny one, on 10 sentences)."""
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def readme_commands() -> list[str]:
    block = re.search(r"```bash\n(.*?)```", (ROOT / "README.md").read_text(encoding="utf-8"), re.S).group(1)
    return [line.split("#")[0].strip() for line in block.splitlines() if line.strip()]


def test_readme_opens_with_the_setup_and_demo_command_and_the_test_command_ci_runs():
    assert readme_commands() == ["bash scripts/setup.sh && .venv/bin/labelwise demo", "bash scripts/test.sh"]
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert [line for line in ci.splitlines() if line and not line.startswith("#")][-1] == "exec bash scripts/test.sh"
    test_sh = (ROOT / "scripts" / "test.sh").read_text(encoding="utf-8")
    assert "bash scripts/setup.sh" in test_sh  # the test command installs what it needs itself


@pytest.mark.real_model
@pytest.mark.slow
def test_demo_runs_end_to_end_with_the_embedded_model(tmp_path):
    pytest.importorskip("llama_cpp")
    cmd = [sys.executable, "-m", "labelwise.cli.app", "demo", "--dir", str(tmp_path / "demo"),
           "--model", "smollm2-135m-instruct", "--limit", "10"]
    env = {**os.environ, "COLUMNS": "200"}
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=900, env=env)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    assert "4/4 evaluate" in r.stdout and re.search(r"accuracy \d+\.\d% \(95% CI", r.stdout)
    rows = [json.loads(line) for line in (tmp_path / "demo" / "labels.jsonl").read_text().splitlines()]
    assert len(rows) == 10 and all(row["label"] in ("positive", "negative") for row in rows)
    assert all(row["annotator"] == "llamacpp/smollm2-135m-instruct" for row in rows)
    # a second demo in the same folder replays everything from the cache: nothing asked twice
    again = subprocess.run(cmd, capture_output=True, text=True, timeout=900, env=env)
    assert again.returncode == 0, again.stderr[-2000:]
    assert "0 LLM call(s)" in again.stdout
