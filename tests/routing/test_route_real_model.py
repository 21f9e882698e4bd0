"""The route with the real embedded model on the bundled Yelp sample: planned on gold, every
other item labeled by the model or queued for people, and a rerun pays for nothing."""
import json
import subprocess
import sys

import pytest

pytestmark = [pytest.mark.real_model, pytest.mark.slow]
CLI = [sys.executable, "-m", "labelwise.cli.app"]


def test_route_with_the_embedded_model_then_people(tmp_path):
    pytest.importorskip("llama_cpp")
    proj = tmp_path / "proj"
    subprocess.run([*CLI, "init", str(proj)], check=True, capture_output=True)
    cfg = proj / "labelwise.yaml"
    cfg.write_text(cfg.read_text().replace("  # limit: 100", "  limit: 40") + """
route:
  stages: ["llamacpp:smollm2-135m-instruct", human]
  target_accuracy: 0.6
  delta: 0.2
  gold_sample: 24
  holdout: 0.25
  min_accepted: 5
""")
    r = subprocess.run([*CLI, "route", "-p", str(proj), "--run"], capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    out = " ".join(r.stdout.split())
    assert "route plan: target accuracy 60%" in out and "24 from gold" in out
    e = subprocess.run([*CLI, "export", "-p", str(proj)], capture_output=True, text=True, timeout=300)
    assert e.returncode == 0, e.stderr
    rows = [json.loads(line) for line in (proj / "labels.jsonl").read_text().splitlines()]
    assert len(rows) == 40
    by = {row["labeled_by"] for row in rows}
    assert by <= {"gold", "llamacpp:smollm2-135m-instruct", None}
    assert sum(row["labeled_by"] == "gold" for row in rows) == 24
    # items no stage may keep wait for people (no label), the others carry the model's certified label
    assert all((row["labeled_by"] is None) == (row["label"] is None) for row in rows)
    again = subprocess.run([*CLI, "route", "-p", str(proj), "--run"], capture_output=True, text=True, timeout=600)
    assert again.returncode == 0 and again.stdout.count("calls") >= 1
    import sqlite3
    with sqlite3.connect(proj / "labelwise.db") as c:
        paid = c.execute("SELECT COUNT(*), COUNT(DISTINCT cache_key) FROM ledger").fetchone()
    assert paid[0] == paid[1]  # nothing asked twice across the two runs


def _ledger(db):
    import sqlite3
    try:
        with sqlite3.connect(db) as c:
            return c.execute("SELECT COUNT(*), COUNT(DISTINCT cache_key) FROM ledger").fetchone()
    except sqlite3.OperationalError:  # the schema is not written yet
        return (0, 0)


def test_a_committee_route_killed_mid_run_resumes_without_paying_twice(tmp_path):
    """The real embedded model teaches a committee of real small models (logreg on the packaged
    encoder); kill -9 while it is being paid, rerun: every answer in the ledger is paid once,
    and every item ends labeled or queued for people."""
    import os
    import signal
    import time
    pytest.importorskip("llama_cpp")
    proj = tmp_path / "proj"
    subprocess.run([*CLI, "init", str(proj)], check=True, capture_output=True)
    cfg = proj / "labelwise.yaml"
    cfg.write_text(cfg.read_text().replace("  # limit: 100", "  limit: 60")
                   .replace("model: qwen2.5-coder-1.5b-instruct", "model: smollm2-135m-instruct")
                   .replace("  mode: none   ", "  mode: fixed  ") + """
route:
  stages: [committee, "llamacpp:smollm2-135m-instruct", human]
  target_accuracy: 0.6
  delta: 0.2
  gold_sample: 20
  holdout: 0.25
  min_accepted: 5
  train_size: 20
  batch_size: 15
""")
    db = proj / "labelwise.db"
    cmd = [*CLI, "route", "-p", str(proj), "--run"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 300
    while time.time() < deadline and _ledger(db)[0] < 12 and proc.poll() is None:
        time.sleep(0.05)
    assert proc.poll() is None, "the route ended before the kill"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    paid_before = _ledger(db)[0]
    assert paid_before >= 12
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    out = " ".join(r.stdout.split())
    assert "committee: trained on 20 labels of the next stage" in out and "20 from gold" in out
    paid, distinct = _ledger(db)
    assert paid == distinct and paid > paid_before  # the rerun paid only for what was not paid yet
    again = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
    assert again.returncode == 0 and _ledger(db) == (paid, distinct)  # a third run replays everything
    e = subprocess.run([*CLI, "export", "-p", str(proj)], capture_output=True, text=True, timeout=300)
    assert e.returncode == 0, e.stderr
    rows = [json.loads(line) for line in (proj / "labels.jsonl").read_text().splitlines()]
    assert len(rows) == 60 and {row["labeled_by"] for row in rows} <= {
        "gold", "committee", "llamacpp:smollm2-135m-instruct", None}
    assert all((row["labeled_by"] is None) == (row["label"] is None) for row in rows)  # None: queued for people
    report = json.loads((proj / "route_report.json").read_text())
    assert report["stages"][0]["kind"] == "small model" and report["pool"] == 40
