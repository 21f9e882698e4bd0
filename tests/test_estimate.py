"""`estimate`: answers without embedding everything, times the embedded model on this machine
(real smollm2 on a real project), and says when other processes keep the cores busy."""
import os
import subprocess
import sys
import threading
import time

import pytest
from typer.testing import CliRunner

from labelwise import Project
from labelwise.cli.app import app
from labelwise.estimate import estimate
from labelwise.machine import other_load, threads_for

runner = CliRunner()


def init(tmp_path, backend="llamacpp", model="smollm2-135m-instruct", extra=""):
    d = tmp_path / "proj"
    assert runner.invoke(app, ["init", str(d)]).exit_code == 0
    cfg = d / "labelwise.yaml"
    text = cfg.read_text().replace("  backend: llamacpp ", f"  backend: {backend} #").replace(
        "  model: qwen2.5-coder-1.5b-instruct ", f'  model: "{model}" #')
    cfg.write_text(text + extra)
    return d


@pytest.mark.real_model
def test_the_embedded_model_is_timed_on_a_few_pending_items_which_stay_annotated(tmp_path):
    pytest.importorskip("llama_cpp")
    d = init(tmp_path)
    cfg = d / "labelwise.yaml"
    cfg.write_text(cfg.read_text().replace("annotator:\n", "annotator:\n  n_threads: 1\n", 1))
    p = Project.open(d)
    e = estimate(p, calibrate=4)
    cal = e["calibration"]
    assert cal["items"] == 4 and cal["per_token_s"] > 0 and cal["load_s"] > 0
    assert e["already_annotated"] == 4 and e["to_annotate"] == 196 and e["new_calls"] == 196
    # the rest is predicted from the prompt tokens the run will evaluate, replayed in its order
    assert cal["rest_tokens"] > 196 and e["seconds_approx"] == pytest.approx(cal["load_s"] + cal["rest_s"])
    assert cal["rest_s"] == pytest.approx(cal["per_token_s"] * cal["rest_tokens"])
    assert "measured now on 4 item(s)" in e["seconds_basis"] and "1 thread(s)" in e["seconds_basis"]
    assert "ms per evaluated prompt token" in e["seconds_basis"]
    assert len(p.current_annotations()) == 4  # kept: annotate will not ask them again
    assert p.store.spent()["calls"] == 4
    r = runner.invoke(app, ["estimate", "-p", str(d), "--calibrate", "0"])  # past calls only: nothing more asked
    assert r.exit_code == 0, r.output
    assert "4 already annotated, 196 to do" in r.output and "your past 4 call(s)" in r.output
    assert Project.open(d).store.spent()["calls"] == 4


@pytest.mark.real_model
def test_with_retrieved_examples_only_a_sample_is_embedded(tmp_path):
    d = init(tmp_path, backend="fake", model="constant:negative")
    cfg = d / "labelwise.yaml"
    cfg.write_text(cfg.read_text().replace("  mode: none ", "  mode: nearest #"))
    r = runner.invoke(app, ["estimate", "-p", str(d), "--sample", "40"])
    assert r.exit_code == 0, r.output
    out = " ".join(r.output.split())
    assert "planning a random sample of 40 of 200 items" in out
    p = Project.open(d)
    e = estimate(p, sample=40)
    assert e["sampled"] == 40 and e["items"] == 200 and e["to_annotate"] == 200 and e["new_calls"] == 200
    n_examples = len(p.few_shot().pool)
    embedded = p.store.db.execute("SELECT COUNT(*) FROM embeddings").fetchone()[0]
    assert embedded <= 40 + n_examples  # the examples and the sampled items, not all 200
    e = estimate(p, sample=1000)  # under the sample size: exact, every item planned
    assert e["sampled"] is None and e["to_annotate"] == 200 and e["new_calls"] == 200


def _spin(stop):
    while not stop.is_set():
        pass


def test_other_load_counts_other_processes_not_this_one():
    base = other_load(0.5)
    stop = threading.Event()
    t = threading.Thread(target=_spin, args=(stop,))
    t.start()
    try:
        mine = other_load(0.5)  # this process spinning a core is not "other" load
    finally:
        stop.set()
        t.join()
    hog = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        time.sleep(0.3)
        theirs = other_load(0.5)
    finally:
        hog.kill()
        hog.wait()
    assert mine < base + 0.5
    # a hog adds a core of other load, unless other work already fills the machine (as when CI
    # runs beside a benchmark): other load cannot pass the core count
    assert theirs > min(base + 0.6, (os.cpu_count() or 1) - 0.4)


def test_threads_take_the_free_cores_and_say_when_the_machine_is_busy():
    assert threads_for(None, 2, 0.1).n == 2 and not threads_for(None, 2, 0.1).busy
    t = threads_for(None, 2, 1.1)
    assert t.n == 1 and not t.busy and "1 core(s) left to the other work" in t.message()
    assert threads_for(None, 2, 3.0).n == 1  # never fewer than one
    t = threads_for(2, 2, 1.1)  # set by hand: kept, and the busy machine is named
    assert t.n == 2 and t.busy and "the machine is busy" in t.message() and "n_threads lower" in t.message()
    assert threads_for(None, 16, 4.0).n == 12


@pytest.mark.real_model
def test_clustered_examples_are_counted_once_per_cluster_when_sampling(tmp_path):
    """With few_shot.clusters the examples are a per-cluster cost, not a per-item one: a sample's
    head tokens are not scaled up with its items (they would overstate the run by a quarter)."""
    pytest.importorskip("llama_cpp")
    got = {}
    for name, sample in (("sampled", 40), ("exact", 1000)):
        d = init(tmp_path / name)
        cfg = d / "labelwise.yaml"
        cfg.write_text(cfg.read_text().replace("  mode: none ", "  mode: nearest #")
                       .replace("  # clusters: 16 ", "  clusters: 3 #")
                       .replace("annotator:\n", "annotator:\n  n_threads: 1\n", 1))
        e = estimate(Project.open(d), sample=sample, calibrate=2)
        got[name] = e
    s, x = got["sampled"], got["exact"]
    assert s["sampled"] == 40 and x["sampled"] is None and s["to_annotate"] == x["to_annotate"] == 198
    cal = s["calibration"]
    assert 1 <= cal["rest_heads"] <= 6 and cal["rest_head_tokens"] > 0
    linear = cal["rest_tokens"] * (198 / 38)  # the sample's tokens scaled with its items
    exact = x["calibration"]["predicted_tokens"]
    assert exact == x["calibration"]["rest_tokens"]  # planned in full: nothing scaled
    assert abs(cal["predicted_tokens"] - exact) < abs(linear - exact)
    assert abs(cal["predicted_tokens"] - exact) / exact < 0.15
