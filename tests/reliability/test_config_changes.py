"""An annotation is keyed by everything that changes its prompt or its answer, the record's own
text included: a changed config asks again (replaying what was asked before), an edited or moved
record never keeps another text's label, and eval/export cover the data file as it is now."""
import json

import pytest
from typer.testing import CliRunner

from labelwise import Project
from labelwise.cli.app import app
from tests.servers import FaultServer, scored

from .conftest import make_project

runner = CliRunner()
POS = ((" positive", -0.1), (" negative", -2.5))
NEG = ((" negative", -0.1), (" positive", -2.5))


def by_content(seen):
    """Answers from the text: 'great' in the review's line -> positive, else negative."""
    last = seen.body["messages"][-1]["content"]
    return scored(POS if "great" in last else NEG)


@pytest.fixture
def server():
    with FaultServer(default=by_content) as s:
        yield s


def annotate(proj):
    r = runner.invoke(app, ["annotate", "-p", str(proj)])
    assert r.exit_code == 0, r.output
    return " ".join(r.output.split())


def exported(proj):
    r = runner.invoke(app, ["export", "-p", str(proj), "--format", "jsonl"])
    assert r.exit_code == 0, r.output
    return [json.loads(line) for line in (proj / "labels.jsonl").read_text().splitlines()]


def set_config(proj, old, new):
    cfg = proj / "labelwise.yaml"
    text = cfg.read_text()
    assert old in text
    cfg.write_text(text.replace(old, new))


@pytest.mark.parametrize("old,new", [
    ("  concurrency: 8", "  concurrency: 8\n  temperature: 0.2"),
    ("  concurrency: 8", "  concurrency: 8\n  samples: 3"),
    ("  concurrency: 8", "  concurrency: 8\n  seed: 7"),
])
def test_a_changed_annotator_setting_asks_again(tmp_path, server, old, new):
    proj = make_project(tmp_path / "p", server.url, n=10)
    assert "annotated 10 item(s)" in annotate(proj)
    set_config(proj, old, new)
    out = annotate(proj)
    assert "annotated 10 item(s)" in out and "(0 were already done)" in out and "10 LLM call(s)" in out
    assert len(server.chat_requests) == 20


def test_a_changed_base_url_asks_the_new_server(tmp_path, server):
    proj = make_project(tmp_path / "p", server.url, n=6)
    annotate(proj)
    with FaultServer(default=by_content) as other:
        set_config(proj, f"base_url: {server.url}", f"base_url: {other.url}")
        assert "6 LLM call(s)" in annotate(proj)
        assert len(other.chat_requests) == 6


def test_few_shot_and_calibration_changes_are_new_annotations_not_old_labels(tmp_path, server):
    proj = make_project(tmp_path / "p", server.url, n=8)
    (proj / "data.csv").write_text("text,label\n" + "".join(
        f"review {i} {'great' if i % 2 else 'awful'},{'positive' if i % 2 else 'negative'}\n" for i in range(8)))
    (proj / "examples.csv").write_text("text,label\nsuper great place,positive\nawful food,negative\n")
    set_config(proj, "  path: data.csv", "  path: data.csv\n  label_field: label")
    annotate(proj)
    set_config(proj, "prices: prices.yaml", "prices: prices.yaml\nfew_shot:\n  mode: fixed\n  k: 2\n"
                                            "  path: examples.csv\n  balanced: false")
    out = annotate(proj)
    assert "annotated 8 item(s)" in out and "8 LLM call(s)" in out
    assert all("super great place" in r.body["messages"][1]["content"] for r in server.chat_requests[8:])
    set_config(proj, "  k: 2", "  k: 1")
    assert "8 LLM call(s)" in annotate(proj)
    set_config(proj, "  concurrency: 8", "  concurrency: 8\n  calibrate: true")
    out = annotate(proj)  # the same questions: replayed; only the content-free inputs are asked
    assert "annotated 8 item(s)" in out and "3 LLM call(s)" in out and "8 answer(s) from the cache" in out
    rerun = annotate(proj)
    assert "(8 were already done)" in rerun and "0 LLM call(s)" in rerun


def test_an_edited_record_gets_a_label_for_its_new_text(tmp_path, server):
    rows = [f"review {i} " + ("great" if i % 2 else "awful") for i in range(6)]
    proj = make_project(tmp_path / "p", server.url, ids=True, rows=rows)
    annotate(proj)
    assert exported(proj)[2]["label"] == "negative"
    rows[2] = "review 2 great after all"
    make_project(proj, server.url, ids=True, rows=rows)
    out = annotate(proj)
    assert "annotated 1 item(s)" in out and "(5 were already done)" in out
    row = exported(proj)[2]
    assert row["id"] == "r2" and row["text"] == "review 2 great after all" and row["label"] == "positive"


def test_an_inserted_row_never_moves_labels_onto_other_texts(tmp_path, server):
    rows = [f"review {i} " + ("great" if i % 2 else "awful") for i in range(5)]
    proj = make_project(tmp_path / "p", server.url, rows=rows)  # no id column: ids by position
    annotate(proj)
    make_project(proj, server.url, rows=["a great new first row", *rows])
    annotate(proj)
    for row in exported(proj):
        assert row["label"] == ("positive" if "great" in row["text"] else "negative"), row
    assert len(server.chat_requests) == 6  # the moved rows replayed their own answers


def test_rows_removed_from_the_data_file_are_not_exported_or_evaluated(tmp_path, server):
    rows = [f"review {i} " + ("great" if i % 2 else "awful") for i in range(6)]
    proj = make_project(tmp_path / "p", server.url, ids=True, rows=rows)
    annotate(proj)
    make_project(proj, server.url, ids=True, rows=rows[:4])
    assert [r["id"] for r in exported(proj)] == ["r0", "r1", "r2", "r3"]
    p = Project.open(proj)
    assert set(p.current_annotations()) == {"r0", "r1", "r2", "r3"}
    assert len(p.store.annotations()) == 6  # older ones are kept, reachable on request
