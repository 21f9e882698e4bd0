"""Exports are written whole or not at all: a kill or a full disk leaves the old file as it was."""
import errno
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from dataclasses import replace

import pytest

from labelwise.data import export_annotations
from labelwise.data import writers
from labelwise.errors import LabelwiseError
from labelwise.types import Annotation, Record
from tests.servers import REPO_ROOT


def data(n):
    records = [Record(id=str(i), fields={"text": f"text {i}"}) for i in range(n)]
    anns = [Annotation(record_id=str(i), annotator_id="fake", template_hash="h", label="positive",
                       distribution={"positive": 0.9, "negative": 0.1}, error=None, call_keys=(),
                       prompt_tokens=1, completion_tokens=1, cost=0.0, latency_s=0.0) for i in range(n)]
    return records, anns


def leftovers(folder):
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".tmp"))


@pytest.mark.parametrize("fmt", ["jsonl", "csv", "conll"])
def test_export_replaces_the_old_file_and_leaves_no_temp(tmp_path, fmt):
    target = tmp_path / f"labels.{fmt}"
    target.write_text("old\n")
    records, anns = data(3)
    if fmt == "conll":
        records = [Record(id=r.id, fields={"tokens": ["a", "b"]}) for r in records]
        anns = [replace(a, label=("O", "B-X")) for a in anns]
    assert export_annotations(records, anns, target, fmt) == 3
    text = target.read_text()
    assert text != "old\n" and ("text 2" in text or "a\tO" in text)
    assert leftovers(tmp_path) == []


def test_disk_full_is_a_message_and_nothing_is_replaced(tmp_path, monkeypatch):
    target = tmp_path / "labels.jsonl"
    target.write_text("the good old export\n")
    real_open = open

    class FullDisk:
        """A real file whose writes fail after the first few, as a filling disk does."""
        def __init__(self, *a, **kw):
            self.f, self.n = real_open(*a, **kw), 0

        def write(self, s):
            self.n += 1
            if self.n > 2:
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            return self.f.write(s)

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.f.close()

    monkeypatch.setattr(writers, "open", FullDisk, raising=False)
    records, anns = data(10)
    with pytest.raises(LabelwiseError) as e:
        export_annotations(records, anns, target, "jsonl")
    assert str(e.value) == f"could not write {target}: No space left on device; nothing was replaced"
    assert target.read_text() == "the good old export\n"
    assert leftovers(tmp_path) == []


def test_a_directory_in_the_way_is_a_message(tmp_path):
    (tmp_path / "labels.csv").mkdir()
    records, anns = data(2)
    with pytest.raises(LabelwiseError, match=r"could not write .*labels.csv: Is a directory; nothing was replaced"):
        export_annotations(records, anns, tmp_path / "labels.csv", "csv")
    assert leftovers(tmp_path) == []


SCRIPT = textwrap.dedent("""
    import sys, time
    from labelwise.data import export_annotations, writers
    from labelwise.types import Annotation, Record

    def data(n):
        return ([Record(id=str(i), fields={"text": f"text {i}"}) for i in range(n)],
                [Annotation(record_id=str(i), annotator_id="fake", template_hash="h", label="positive",
                            distribution=None, error=None, call_keys=(), prompt_tokens=1,
                            completion_tokens=1, cost=0.0, latency_s=0.0) for i in range(n)])

    dumps = writers.json.dumps
    def slow_dumps(obj, **kw):  # a big export, slowed down so that the kill lands mid-write
        time.sleep(0.002)
        return dumps(obj, **kw)
    writers.json.dumps = slow_dumps
    records, anns = data(20000)
    export_annotations(records, anns, sys.argv[1], "jsonl")
    print("finished")
""")


def test_a_kill_mid_export_leaves_the_old_file_intact(tmp_path):
    target = tmp_path / "labels.jsonl"
    old = "".join(json.dumps({"id": str(i), "label": "old"}) + "\n" for i in range(100))
    target.write_text(old)
    proc = subprocess.Popen([sys.executable, "-c", SCRIPT, str(target)], cwd=REPO_ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while not leftovers(tmp_path):  # the temporary file has appeared: the export is under way
            assert proc.poll() is None, proc.stderr.read().decode()
            assert time.monotonic() < deadline, "the export never started"
            time.sleep(0.01)
        time.sleep(0.2)
        assert proc.poll() is None, "the export finished before the kill"
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(10)
    assert proc.returncode == -signal.SIGKILL
    assert target.read_text() == old
    (tmp,) = leftovers(tmp_path)  # the killed writer could not remove its temporary file
    assert tmp.startswith(".labels.jsonl.") and (tmp_path / tmp).stat().st_size < 20000 * 100
