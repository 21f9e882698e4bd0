"""kill -9 in the middle of `annotate`, then rerun: every item gets exactly one annotation and no
answered call is paid for twice. A real process, a real model, a real SQLite file."""
import os
import signal
import sqlite3
import subprocess
import sys
import time

import pytest

pytest.importorskip("llama_cpp")
pytestmark = [pytest.mark.real_model, pytest.mark.slow]
N = 40


def annotations(db):
    try:
        with sqlite3.connect(db) as c:
            return c.execute("SELECT COUNT(*) FROM annotations").fetchone()[0]
    except sqlite3.OperationalError:  # the file exists but the schema is not written yet
        return 0


def test_kill_9_mid_run_then_resume(tmp_path):
    proj = tmp_path / "proj"
    subprocess.run([sys.executable, "-m", "labelwise.cli.app", "init", str(proj)], check=True, capture_output=True)
    cfg = proj / "labelwise.yaml"
    cfg.write_text(cfg.read_text().replace("model: qwen2.5-coder-1.5b-instruct", "model: smollm2-135m-instruct")
                   .replace("  # limit: 100", f"  limit: {N}"))
    db = proj / "labelwise.db"
    cmd = [sys.executable, "-m", "labelwise.cli.app", "annotate", "-p", str(proj)]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while time.time() < deadline:
        if db.exists() and annotations(db) >= 8:
            break
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    done_before = annotations(db)
    assert 8 <= done_before < N, "the kill must land mid-run"
    with sqlite3.connect(db) as c:
        paid_before = c.execute("SELECT COUNT(*) FROM ledger").fetchone()[0]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    with sqlite3.connect(db) as c:
        per_record = c.execute("SELECT record_id, COUNT(*) FROM annotations GROUP BY record_id").fetchall()
        ledger, distinct = c.execute("SELECT COUNT(*), COUNT(DISTINCT cache_key) FROM ledger").fetchone()
    assert len(per_record) == N and all(n == 1 for _, n in per_record)
    assert ledger == distinct == N  # each question paid exactly once across both runs
    assert paid_before >= done_before
