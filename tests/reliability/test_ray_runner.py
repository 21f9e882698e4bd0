"""The Ray runner on a real local Ray (2 CPUs) against a real HTTP fault server: labels identical to
the local runner, each question paid once, and an actor killed mid-batch (SIGKILL of its process)
costs nothing twice: its batch is retried, its answers replayed, its claims taken over."""
import os
import signal
import sqlite3
import subprocess
import threading
import time

import pytest

from labelwise.project import Project
from tests.servers import Seen, scored

from .conftest import CLI, make_project

ray = pytest.importorskip("ray", reason="the Ray runner needs ray (scripts/setup.sh installs it)")
pytestmark = [pytest.mark.external, pytest.mark.slow]

POS = ((" positive", -0.1), (" negative", -2.5))
NEG = ((" positive", -2.0), (" negative", -0.2))


def by_text(delay):
    """Answers that depend on the item: 'great' reviews positive, the rest negative."""
    def answer(seen: Seen):
        text = seen.body["messages"][-1]["content"] if seen.body else ""
        return scored(POS if "great" in text else NEG, delay=delay)
    return answer


def labels(proj):
    p = Project.open(proj)
    return {rid: (a.label, a.distribution) for rid, a in p.current_annotations(p.read_data()).items()}


def ledger(db):
    try:
        with sqlite3.connect(db) as c:
            return c.execute("SELECT COUNT(*), COUNT(DISTINCT cache_key) FROM ledger").fetchone()
    except sqlite3.OperationalError:  # the file is there, its schema not yet
        return (0, 0)


def _actor_pids():
    out = subprocess.run(["pgrep", "-f", "_AnnotateBatch"], capture_output=True, text=True).stdout.split()
    return [int(p) for p in out if int(p) != os.getpid()]


def test_ray_runner_labels_like_the_local_runner_and_survives_a_killed_actor(tmp_path):
    from tests.servers import FaultServer
    n = 80
    with FaultServer(default=by_text(0.2)) as server:  # 80 x 0.2 s over 4 calls in flight: ~4 s to kill in
        local = make_project(tmp_path / "local", server.url, n=n, concurrency=2)
        r = subprocess.run([*CLI, "annotate", "-p", str(local)], capture_output=True, text=True, timeout=120)
        assert r.returncode == 0, r.stderr
        asked_locally = len(server.chat_requests)
        proj = make_project(tmp_path / "ray", server.url, n=n, concurrency=2, extra="store:\n  lease_s: 2\n")
        killed = []

        def kill_one_actor_mid_run():
            deadline = time.time() + 600  # Ray's start-up on a loaded machine can take minutes
            while time.time() < deadline:
                if (proj / "labelwise.db").exists() and 10 <= ledger(proj / "labelwise.db")[0] < n - 20 and \
                        _actor_pids():
                    pid = _actor_pids()[0]
                    os.kill(pid, signal.SIGKILL)
                    killed.append(pid)
                    return
                time.sleep(0.05)

        killer = threading.Thread(target=kill_one_actor_mid_run)
        killer.start()
        r = subprocess.run([*CLI, "annotate", "-p", str(proj), "--runner", "ray", "--workers", "2"],
                           capture_output=True, text=True, timeout=300)
        killer.join()
        assert killed, "no actor was killed: the test did not test a crash"
        assert r.returncode == 0, r.stdout + r.stderr
        assert "with 2 Ray actor(s)" in " ".join(r.stdout.split())
        assert ledger(proj / "labelwise.db") == (n, n)  # every question in the ledger once
        # sent again only what the killed actor had in flight (its concurrency: 2)
        assert n <= len(server.chat_requests) - asked_locally <= n + 2
        assert labels(proj) == labels(local) and len(labels(proj)) == n
        for d in (local, proj):  # the exported datasets, byte for byte
            e = subprocess.run([*CLI, "export", "-p", str(d), "--out", str(d / "out.jsonl")], capture_output=True,
                               text=True, timeout=120)
            assert e.returncode == 0, e.stderr
        assert (proj / "out.jsonl").read_bytes() == (local / "out.jsonl").read_bytes()
        with sqlite3.connect(proj / "labelwise.db") as c:
            assert c.execute("SELECT COUNT(*) FROM claims").fetchone()[0] == 0
        # everything done: a second Ray run pays nothing
        again = subprocess.run([*CLI, "annotate", "-p", str(proj), "--runner", "ray", "--workers", "2"],
                               capture_output=True, text=True, timeout=300)
        assert again.returncode == 0 and f"{n} were already done" in " ".join(again.stdout.split())
        assert ledger(proj / "labelwise.db") == (n, n)


@pytest.mark.real_model
def test_ray_actors_with_the_embedded_model_label_like_one_process(tmp_path):
    """Two actors of one thread each run the real embedded model (smollm2-135m) on their batches:
    the same labels as one local process, each item asked once."""
    pytest.importorskip("llama_cpp")
    n = 16
    projects = []
    for name in ("local", "ray"):
        proj = tmp_path / name
        subprocess.run([*CLI, "init", str(proj)], check=True, capture_output=True)
        cfg = proj / "labelwise.yaml"
        cfg.write_text(cfg.read_text().replace("model: qwen2.5-coder-1.5b-instruct", "model: smollm2-135m-instruct")
                       .replace("  # limit: 100", f"  limit: {n}").replace("  # n_threads: 2", "  n_threads: 1"))
        projects.append(proj)
    local, proj = projects
    r = subprocess.run([*CLI, "annotate", "-p", str(local)], capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    r = subprocess.run([*CLI, "annotate", "-p", str(proj), "--runner", "ray", "--workers", "2"],
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "with 2 Ray actor(s)" in " ".join(r.stdout.split())
    assert ledger(proj / "labelwise.db") == (n, n)
    got, want = labels(proj), labels(local)
    assert {k: v[0] for k, v in got.items()} == {k: v[0] for k, v in want.items()} and len(got) == n
    for rid, (_, dist) in got.items():  # the same distributions, to float tolerance
        assert dist.keys() == want[rid][1].keys()
        assert all(abs(dist[k] - want[rid][1][k]) < 1e-6 for k in dist)


def test_an_embedded_model_actor_takes_its_threads_and_an_http_one_a_quarter_cpu(tmp_path):
    from labelwise.runners.ray_runner import actor_cpus
    proj = make_project(tmp_path / "p", "http://127.0.0.1:9/v1")
    assert actor_cpus(Project.open(proj)) == 0.25
    cfg = proj / "labelwise.yaml"
    cfg.write_text(cfg.read_text().replace("backend: openai", "backend: llamacpp\n  n_threads: 3"))
    assert actor_cpus(Project.open(proj)) == 3.0
