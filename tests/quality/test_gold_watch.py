"""Gold questions in the stream: exact bounds, gold mixed in unmarked at random positions, the
run stopped before its next paid call once the annotator is shown below target, a resumed run
that knows it already, and the warn action."""
import math
import re
import subprocess
import sys

import pytest
from scipy.stats import beta
from typer.testing import CliRunner

from labelwise import Project
from labelwise.annotators.fake import FakeAnnotator
from labelwise.cli.app import app
from labelwise.errors import ConfigError
from labelwise.quality.gold_watch import GoldWatch, accuracy_bounds, same_label
from tests.conftest import write


@pytest.mark.parametrize("k,n,delta", [(0, 10, 0.05), (7, 10, 0.05), (10, 10, 0.05), (45, 60, 0.1), (1, 1, 0.2)])
def test_bounds_are_the_exact_one_sided_clopper_pearson_bounds(k, n, delta):
    lo, hi = accuracy_bounds(k, n, delta)
    assert lo == pytest.approx(0.0 if k == 0 else beta.ppf(delta, k, n - k + 1), abs=1e-9)
    assert hi == pytest.approx(1.0 if k == n else beta.ppf(1 - delta, k + 1, n - k), abs=1e-9)
    assert accuracy_bounds(0, 0, delta) == (0.0, 1.0)


def test_the_watch_acts_only_after_min_items_and_only_when_shown_below():
    w = GoldWatch(target=0.8, delta=0.05, min_items=10)
    for _ in range(9):
        w.add("a", "b")
    assert not w.below_target()  # 0 of 9: not yet allowed to act
    w.add("a", "b")
    assert w.below_target() and "0 of 10 right" in w.message()
    ok = GoldWatch(target=0.8, min_items=1)
    for i in range(20):
        ok.add("a", "a" if i % 10 else "b")  # 90%: not shown below 80%
    assert not ok.below_target() and ok.accuracy == 0.9
    assert same_label(("x", "y"), ["y", "x"], as_sets=True) and not same_label(["B-PER", "O"], ["O", "B-PER"])
    bad = GoldWatch(target=0.5, min_items=1)
    bad.add(None, "a", error="ParseError: no label")
    assert bad.correct == 0 and bad.n == 1


def project(tmp, n=60, gold_file=0, gold_in_data=True, action="stop", target=0.8, extra=""):
    label = ",label" if gold_in_data else ""
    write(tmp / "data.csv", "id,text" + label + "\n" + "".join(
        f"d{i},review number {i} of the shop" + (",negative" if gold_in_data else "") + "\n" for i in range(n)))
    gold = ""
    if gold_file:
        write(tmp / "gold.csv", "id,text,label\n" + "".join(f"{i},review number {1000 + i} of the shop,negative\n"
                                                           for i in range(gold_file)))
        gold = "  path: gold.csv\n"
    write(tmp / "labelwise.yaml", f"""
task:
  kind: classification
  labels: {{positive: likes it, negative: dislikes it}}
data: {{path: data.csv, id_field: id{', label_field: label' if gold_in_data else ''}}}
annotator: {{backend: fake, model: "constant:positive", concurrency: 1}}
gold:
{gold}  target: {target}
  action: {action}
  min_items: 10
""" + extra)
    return Project.open(tmp)


def test_stop_halts_before_the_next_paid_call_and_a_rerun_pays_nothing(tmp_path):
    p = project(tmp_path)
    r = CliRunner().invoke(app, ["annotate", "-p", str(tmp_path)])
    assert r.exit_code == 6, r.output
    out = " ".join(r.output.split())
    assert "gold questions: 0 of 10 right" in out and "below the target" in out and "stopped" in out
    assert p.store.spent()["calls"] == 10  # the 10th wrong gold answer was the last one paid
    again = CliRunner().invoke(app, ["annotate", "-p", str(tmp_path)])
    assert again.exit_code == 6 and p.store.spent()["calls"] == 10  # known from the stored answers: nothing asked


def test_warn_goes_on_and_says_so(tmp_path):
    p = project(tmp_path, action="warn")
    r = CliRunner().invoke(app, ["annotate", "-p", str(tmp_path)])
    assert r.exit_code == 0, r.output
    assert "gold questions: 0 of 60 right" in " ".join(r.output.split()) and p.store.spent()["calls"] == 60


def test_gold_file_items_are_mixed_in_at_random_positions_and_look_like_any_other(tmp_path):
    asked = []
    p = project(tmp_path, n=200, gold_file=20, gold_in_data=False, target=0.5)

    def answer(q):
        asked.append(q.messages[-1].content)
        return {"negative": math.log(0.9), "positive": math.log(0.1)}  # right on gold

    p.__dict__["annotator"] = FakeAnnotator(answer, model="sure")
    s = p.run()
    assert s.gold["n"] == 20 and s.gold["correct"] == 20 and not s.gold["below_target"] and not s.stopped
    pos = [i for i, text in enumerate(asked) if re.search(r"review number 10[01]\d of", text)]
    assert len(pos) == 20 and pos[-1] - pos[0] > 100 and pos != list(range(pos[0], pos[0] + 20))
    data_prompt = next(t for t in asked if "review number 5 of" in t)
    gold_prompt = next(t for t in asked if "review number 1005 of" in t)
    assert data_prompt.replace("5 of", "1005 of") == gold_prompt  # the same template, nothing marks gold
    ids = {a.record_id for a in p.store.annotations()}
    assert {f"gold:{i}" for i in range(20)} <= ids and len(ids) == 220
    asked.clear()
    assert p.run().calls == 0 and asked == []  # gold answers are stored like any other: never paid twice


def reroute_project(tmp, stages):
    return project(tmp, action="reroute", extra="route:\n  stages: [" + ", ".join(stages) + "]\n")


def test_reroute_hands_every_item_to_the_next_stage_and_export_carries_its_labels(tmp_path):
    p = reroute_project(tmp_path, ["fake:constant:positive", "fake:constant:negative", "human"])
    r = CliRunner().invoke(app, ["annotate", "-p", str(tmp_path)])
    assert r.exit_code == 0, r.output
    out = " ".join(r.output.split())
    assert "rerouted: fake:constant:positive was shown below gold.target (0 of 10 gold right" in out
    assert "went to fake:constant:negative" in out and "gold questions: 60 of 60 right" in out
    assert p.store.spent()["calls"] == 10 + 60  # the failing annotator's 10 answers, then everything once
    by = {}
    for a in p.store.annotations():
        by.setdefault(a.annotator_id, set()).add(a.record_id)
    assert len(by["fake/constant:positive"]) == 10 and len(by["fake/constant:negative"]) == 60  # answers kept
    assert CliRunner().invoke(app, ["export", "-p", str(tmp_path), "-f", "csv"]).exit_code == 0
    rows = (tmp_path / "labels.csv").read_text().splitlines()
    assert len(rows) == 61 and all(",negative," in row for row in rows[1:])  # the next stage's labels
    again = CliRunner().invoke(app, ["annotate", "-p", str(tmp_path)])
    assert again.exit_code == 0 and p.store.spent()["calls"] == 70  # known from stored answers: nothing asked
    ev = CliRunner().invoke(app, ["eval", "-p", str(tmp_path)])
    assert "fake/constant:negative" in ev.output and "100.0%" in ev.output


def test_reroute_to_people_queues_the_items_and_exits_6(tmp_path):
    p = reroute_project(tmp_path, ["fake:constant:positive", "human"])
    r = CliRunner().invoke(app, ["annotate", "-p", str(tmp_path)])
    assert r.exit_code == 6, r.output
    assert "rerouted to people: 60 item(s) queued for review" in " ".join(r.output.split())
    queue = p.store.review_queue()
    assert len(queue) == 60 and {run for _, run, _ in queue} == {"gold-reroute"}
    assert p.store.spent()["calls"] == 10


def test_reroute_without_a_stage_after_the_annotator_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError) as e:
        project(tmp_path, action="reroute")
    assert "gold.action 'reroute' sends the items to the stage after the annotator" in str(e.value)
    r = subprocess.run([sys.executable, "-m", "labelwise.cli.app", "annotate", "-p", str(tmp_path)],
                       capture_output=True, text=True)
    assert r.returncode == 2 and "labelwise.yaml" in r.stderr and "route.stages" in r.stderr
