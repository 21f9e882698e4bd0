"""`labelwise check` with the real embedded model on the bundled Yelp sample: zero-shot and
fixed few-shot scored on the same 20 gold items, each with exact bounds and a verdict."""
import json
import subprocess
import sys

import pytest

pytestmark = [pytest.mark.real_model, pytest.mark.slow]
CLI = [sys.executable, "-m", "labelwise.cli.app"]


def test_check_two_few_shot_modes_with_the_embedded_model(tmp_path):
    pytest.importorskip("llama_cpp")
    proj = tmp_path / "proj"
    subprocess.run([*CLI, "init", str(proj)], check=True, capture_output=True)
    r = subprocess.run([*CLI, "check", "-p", str(proj), "--n", "20", "--models", "smollm2-135m-instruct",
                        "--few-shot", "none,fixed", "--target", "0.95"], capture_output=True, text=True, timeout=900)
    assert r.returncode in (0, 6), r.stdout[-3000:] + r.stderr[-3000:]
    out = json.loads((proj / "check.json").read_text())
    assert [row["candidate"] for row in out["rows"]] == [
        "llamacpp:smollm2-135m-instruct few_shot=none", "llamacpp:smollm2-135m-instruct few_shot=fixed"]
    for row in out["rows"]:
        assert row["n"] == 20 and row["lower"] <= row["accuracy"] <= row["upper"]
        assert row["verdict"] in ("meets", "below", "undecided") and row["seconds_per_item"] > 0
    assert (r.returncode == 6) == (not any(row["verdict"] == "meets" for row in out["rows"]))
    assert "recommended:" in r.stdout
