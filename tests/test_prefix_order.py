"""The engine orders the embedded model's work so prompts that share few-shot examples come one
after another; with the backend's block-aligned KV reuse that changes no answer. Real smollm2,
real encoder, a real project file and SQLite store."""
import pytest
from typer.testing import CliRunner

from labelwise import Project
from labelwise.cli.app import app
from labelwise.engine import _shared_prefix_order

pytest.importorskip("llama_cpp")
pytestmark = [pytest.mark.real_model]


def nearest_project(d, order="similar_last", clusters=0):
    assert CliRunner().invoke(app, ["init", str(d)]).exit_code == 0
    cfg = d / "labelwise.yaml"
    text = cfg.read_text().replace("  model: qwen2.5-coder-1.5b-instruct ", '  model: "smollm2-135m-instruct" #')
    text = text.replace("  mode: none ", "  mode: nearest #").replace("annotator:\n", "annotator:\n  n_threads: 2\n", 1)
    assert "  order: similar_last " in text
    text = text.replace("  order: similar_last ", f"  order: {order} #")
    cfg.write_text(text.replace("  # clusters: 16 ", f"  clusters: {clusters} #") if clusters else text)
    return Project.open(d)


def answers(p, records, ordered):
    seen = []
    ann = p.annotator
    ann.reuses_prefix = ordered
    real = ann.answer_sync

    def spy(q):
        seen.append(q.messages)
        return real(q)
    ann.answer_sync = spy
    p.run(records, watch_gold=False)
    got = p.current_annotations(records)
    return {rid: (a.label, a.distribution) for rid, a in got.items()}, seen


def shared_messages(prompts):
    total = 0
    for a, b in zip(prompts, prompts[1:]):
        n = 0
        while n < min(len(a), len(b)) - 1 and a[n] == b[n]:
            n += 1
        total += n
    return total


@pytest.mark.parametrize("order", ["similar_last", "shared_first"])
def test_ordering_the_work_by_shared_examples_changes_no_answer(tmp_path, order):
    a = nearest_project(tmp_path / "a", order)
    records = a.read_data()[:16]
    got_sorted, seen_sorted = answers(a, records, ordered=True)
    b = nearest_project(tmp_path / "b", order)
    got_plain, seen_plain = answers(b, records, ordered=False)
    assert len(got_sorted) == len(got_plain) == 16
    for rid, (label, dist) in got_plain.items():
        other_label, other_dist = got_sorted[rid]
        assert other_label == label
        assert other_dist == pytest.approx(dist, abs=1e-9)  # the same tokens give the same scores
    # the model saw the prompts sorted by their examples, and consecutive ones share more of them
    assert [tuple((m.role, m.content) for m in ms[:-1]) for ms in seen_sorted] == sorted(
        tuple((m.role, m.content) for m in ms[:-1]) for ms in seen_plain)
    assert shared_messages(seen_sorted) > shared_messages(seen_plain)
    assert _shared_prefix_order((None, [], [], "")) == ()


def test_clustered_examples_evaluate_each_clusters_prompt_head_once(tmp_path):
    p = nearest_project(tmp_path / "c", clusters=3)
    assert p.config.few_shot.clusters == 3
    records = p.read_data()[:16]
    ann, seen = p.annotator, []
    real = ann.answer_sync

    def spy(q):
        r = real(q)
        seen.append((q.messages, r.raw["prompt_tokens_reused"]))
        return r
    ann.answer_sync = spy
    p.run(records, watch_gold=False)
    heads = [tuple(ms[:-1]) for ms, _ in seen]
    assert len(seen) == 16 and 1 < len(set(heads)) <= 3  # at most one list of examples per cluster
    for (ms, reused), before in zip(seen[1:], heads):
        _, tokens = ann._prompt_tokens(ms)
        item_block = ann.block_starts(tokens, [m.role for m in ms])[-1]
        # the same examples as the prompt before: everything up to the item is reused
        assert reused == (item_block if tuple(ms[:-1]) == before else reused)
    assert sum(tuple(ms[:-1]) == b for (ms, _), b in zip(seen[1:], heads)) == 16 - len(set(heads))
