"""The relevance kind with the real embedded model (smollm2-135m) on the bundled starter:
`labelwise init --task relevance`, annotate, eval. Grades are scored from the four grade
tokens in one pass; each stored distribution covers exactly the grades."""
import os
import subprocess
import sys

import pytest

from labelwise import Project

pytest.importorskip("llama_cpp")
pytestmark = [pytest.mark.real_model, pytest.mark.slow]


def lw(*args):
    return subprocess.run([sys.executable, "-m", "labelwise.cli.app", *args], capture_output=True, text=True,
                          timeout=900, env={**os.environ, "COLUMNS": "200"})


def test_init_annotate_eval_a_relevance_project(tmp_path):
    d = tmp_path / "search-project"
    r = lw("init", str(d), "--task", "relevance")
    assert r.returncode == 0, r.stderr
    cfg = (d / "labelwise.yaml").read_text()
    cfg = cfg.replace("model: qwen2.5-coder-1.5b-instruct", "model: smollm2-135m-instruct\n  n_threads: 2")
    cfg = cfg.replace("  label_field: label", "  label_field: label\n  limit: 10")
    (d / "labelwise.yaml").write_text(cfg)
    r = lw("annotate", "-p", str(d))
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    p = Project.open(d)
    anns = p.current_annotations()
    assert len(anns) == 10
    for a in anns.values():
        assert a.error is None and a.label in ("0", "1", "2", "3")
        assert set(a.distribution) == {"0", "1", "2", "3"} and sum(a.distribution.values()) == pytest.approx(1.0)
        assert len(a.call_keys) == 1  # one pass per pair
    r = lw("eval", "-p", str(d))
    assert r.returncode == 0, r.stderr[-2000:]
    out = " ".join(r.stdout.split())
    assert "quadratic-weighted Cohen's kappa" in out and "nDCG@10" in out and "over 2 queries" in out
