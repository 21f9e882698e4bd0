"""The route end to end on a real project file and SQLite store, with scripted annotators: each
stage is asked only about what earlier stages left, thresholds are the calibrated ones, people
get the rest, export says who labeled each item and whether it is certified, and a rerun pays
for nothing."""
import json
import math
import re

import pytest
from typer.testing import CliRunner

from labelwise import Project
from labelwise.annotators.fake import FakeAnnotator
from labelwise.cli.app import app
from labelwise.routing import calibrate_threshold
from labelwise.routing.router import gold_records, plan_route, route_name, run_route, split_gold
from labelwise.routing.stages import confidence_of, make_stages
from tests.conftest import write


def item(i):
    kind = "easy" if i % 3 else "hard"
    return f"item {i} {kind} " + ("great" if i % 2 else "awful")


def truth(text):
    return "positive" if "great" in text else "negative"


def scripted(name, confident_on):
    """Right and sure on the items ``confident_on`` says; unsure and right half the time elsewhere."""
    asked = []

    def answer(q):
        text = q.messages[-1].content
        n = int(re.search(r"item (\d+)", text).group(1))
        asked.append(n)
        right = truth(text)
        wrong = "negative" if right == "positive" else "positive"
        if confident_on(text):
            return {right: math.log(0.97), wrong: math.log(0.03)}
        label = right if n % 4 < 2 else wrong
        return {label: math.log(0.6), ("negative" if label == "positive" else "positive"): math.log(0.4)}

    fake = FakeAnnotator(answer, model=name)
    fake.asked = asked
    return fake


@pytest.fixture
def project(tmp_path):
    write(tmp_path / "pool.csv", "id,text\n" + "".join(f"p{i},{item(i)}\n" for i in range(300)))
    write(tmp_path / "gold.csv", "id,text,label\n" + "".join(f"g{i},{item(1000 + i)},{truth(item(1000 + i))}\n"
                                                            for i in range(240)))
    write(tmp_path / "labelwise.yaml", """
task:
  kind: classification
  labels: {positive: likes it, negative: dislikes it}
data: {path: pool.csv, id_field: id}
annotator: {backend: fake, model: "constant:positive"}
route:
  stages: ["fake:weak", "fake:strong", human]
  target_accuracy: 0.95
  delta: 0.05
  gold: gold.csv
  holdout: 0.25
""")
    return Project.open(tmp_path)


def test_each_stage_sees_only_what_earlier_stages_left_and_people_get_the_rest(project):
    weak = scripted("weak", lambda t: "easy" in t)                    # sure (and right) on the easy two thirds
    strong = scripted("strong", lambda t: "easy" in t or "great" in t)  # also sure on hard positives
    stages = make_stages(project, project.config.route.stages, "margin", {"fake:weak": weak, "fake:strong": strong})
    plans = plan_route(project, stages)
    assert [p.stage for p in plans] == ["fake:weak", "fake:strong", "human"]
    calib, held = split_gold(gold_records(project), 0.25, 0)
    assert plans[0].gold_offered == len(calib) == 180 and plans[0].holdout_offered == len(held) == 60
    assert sorted(weak.asked) == list(range(1000, 1240))
    num = [int(r.id[1:]) + 1000 for r in calib]
    easy_calib = [n for n in num if n % 3]
    t0 = plans[0].threshold  # its sure items are all right: kept at their margin, the unsure ones fail
    assert t0.threshold == pytest.approx(0.94) and t0.accepted == len(easy_calib) and t0.accuracy == 1.0
    assert plans[0].holdout_accuracy == 1.0 and plans[0].holdout_accepted == sum(1 for r in held if int(r.id[1:]) % 3 != 2)
    # on every held-out item offered (kept or not) it is right on the easy ones and half the hard ones
    right = [(int(r.id[1:]) + 1000) % 3 != 0 or (int(r.id[1:]) + 1000) % 4 < 2 for r in held]
    assert plans[0].holdout_offered_accuracy == pytest.approx(sum(right) / len(held))
    assert sum(right) < len(held)  # ...so it is below the accuracy of what it kept
    assert plans[2].holdout_offered_accuracy is None  # people: their gold is reported apart
    # the strong stage is asked only about the gold the weak one left: the hard items
    assert sorted(strong.asked) == [n for n in range(1000, 1240) if n % 3 == 0]
    hard = [n for n in num if n % 3 == 0]
    conf = [0.94 if truth(item(n)) == "positive" else 0.2 for n in hard]
    ok = [truth(item(n)) == "positive" or n % 4 < 2 for n in hard]
    assert plans[1].threshold == calibrate_threshold(conf, ok, 0.95, 0.05, 30)
    assert plans[1].threshold.threshold is None  # ~20 sure items are too few to certify 95% at delta 0.05
    weak.asked.clear(), strong.asked.clear()
    res = run_route(project, stages, plans)
    easy = [i for i in range(300) if i % 3]
    assert sorted(weak.asked) == list(range(300)) and res.labeled["fake:weak"] == len(easy)
    assert strong.asked == []  # no safe threshold: not paid for labels nobody may keep
    queued = {rid for rid, _, _ in project.store.review_queue()}
    assert queued == {f"p{i}" for i in range(300) if i % 3 == 0} and res.queued_for_people == 100
    routed = project.store.routed(route_name(project))
    assert set(routed) == {f"p{i}" for i in easy} and res.unrouted == 0
    assert all(st == "fake:weak" and cert and lab == truth(item(int(rid[1:])))
               for rid, (st, lab, _, cert) in routed.items())


def test_the_cli_plans_runs_exports_and_a_rerun_pays_nothing(project, tmp_path, monkeypatch):
    weak = scripted("weak", lambda t: "easy" in t)
    strong = scripted("strong", lambda t: True)
    fakes = {"fake:weak": weak, "fake:strong": strong}
    import labelwise.routing.stages as st
    real = st.make_stages
    monkeypatch.setattr(st, "make_stages", lambda p, specs, how, annotators=None: real(p, specs, how, fakes))
    runner = CliRunner()
    r = runner.invoke(app, ["route", "-p", str(tmp_path)])
    assert r.exit_code == 0, r.output
    assert "route plan: target accuracy 95%" in r.output and "guarantee: accepted items have error" in r.output
    r = runner.invoke(app, ["route", "-p", str(tmp_path), "--run"])
    assert r.exit_code == 0, r.output
    out = " ".join(r.output.split())
    assert "200 by fake:weak" in out and "100 by fake:strong" in out and "0 queued for people" in out
    report = json.loads((tmp_path / "route_report.json").read_text())
    page = (tmp_path / "route_report.html").read_text()
    weak_row, strong_row = report["stages"][0], report["stages"][1]
    assert weak_row["labeled"] == 200 and strong_row["labeled"] == 100 and report["pool"] == 300
    assert weak_row["calls"] == 300 and weak_row["paid_in_project"] == 300 + 240  # gold paid by the first plan
    assert weak_row["threshold"] == pytest.approx(0.94) and weak_row["per_call"]["money"] == 0.0
    assert weak_row["risk_coverage"][0][1] <= weak_row["risk_coverage"][-1][1] == 1.0  # strict to lenient
    assert report["cost"][0]["way"].startswith("this route") and report["cost"][-1]["money"] == pytest.approx(300 * 0.08)
    assert "Guarantee:" in page and "data:image/png;base64," in page and "fake:weak on every item" in page
    paid = project.store.spent()["calls"]
    r = runner.invoke(app, ["route", "-p", str(tmp_path), "--run"])
    assert r.exit_code == 0 and project.store.spent()["calls"] == paid  # every answer replayed
    r = runner.invoke(app, ["export", "-p", str(tmp_path)])
    assert r.exit_code == 0, r.output
    rows = [json.loads(line) for line in (tmp_path / "labels.jsonl").read_text().splitlines()]
    assert len(rows) == 300 and {row["labeled_by"] for row in rows} == {"fake:weak", "fake:strong"}
    assert all(row["certified"] for row in rows) and all(row["label"] == truth(row["text"]) for row in rows)


def test_items_people_answered_take_their_majority_and_no_model_is_asked_about_them(project, tmp_path):
    from labelwise.review.answers import human_annotation
    data = {r.id: r for r in project.read_data()}
    gold = {r.id: r for r in gold_records(project)}

    def answer(who, rid, label, pool=data):
        rec = pool[rid]
        project.store.put_human_answer(human_annotation(project.task, rec, who, label, 2.0, 0.05), who, None)

    for i in (0, 3, 6):  # hard items: alice and bob agree on 0 and 3; on 6 they split (tie: alice, by name)
        answer("alice", f"p{i}", truth(item(i)))
        answer("bob", f"p{i}", truth(item(i)) if i != 6 else "positive")
    hard_gold = [rid for rid in gold if (1000 + int(rid[1:])) % 3 == 0][:10]
    for n, rid in enumerate(hard_gold):  # people on gold: 9 right, 1 wrong
        right = gold[rid].gold
        answer("alice", rid, right if n else ("negative" if right == "positive" else "positive"), gold)
    weak = scripted("weak", lambda t: "easy" in t)
    strong = scripted("strong", lambda t: "easy" in t or "great" in t)
    stages = make_stages(project, project.config.route.stages, "margin", {"fake:weak": weak, "fake:strong": strong})
    plans = plan_route(project, stages)
    pg = plans[-1].people_gold
    calib, held = split_gold(gold_records(project), 0.25, 0)
    reaching = [r.id for r in calib + held if (1000 + int(r.id[1:])) % 3 == 0]  # no machine stage kept hard gold
    assert pg["offered"] == len(reaching) and pg["answered"] == sum(1 for r in hard_gold if r in reaching)
    assert pg["correct"] == pg["answered"] - (hard_gold[0] in reaching) and 0 < pg["ci95"][0] < pg["ci95"][1] <= 1
    assert pg["per_reviewer"]["alice"] == {k: pg[k] for k in ("answered", "correct", "accuracy", "ci95")}  # she alone
    assert "bob" not in pg["per_reviewer"]  # bob answered no gold
    weak.asked.clear()
    res = run_route(project, stages, plans)
    assert sorted(weak.asked) == [i for i in range(300) if i not in (0, 3, 6)]  # never asked what people labeled
    assert res.from_people == 3 and res.queued_for_people == 100 - 3 and res.unrouted == 0
    routed = project.store.routed(route_name(project))
    assert routed["p0"] == ("human", truth(item(0)), 1.0, True) and routed["p6"] == ("human", truth(item(6)), 0.5, True)
    from labelwise.report.route_html import write_route_report
    from labelwise.routing.summary import route_summary
    summary = route_summary(project, stages, res)
    human_row = summary["stages"][-1]
    assert human_row["labeled"] == 3 and human_row["queued"] == 97 and summary["dataset"]["from_people"] == 3
    page = write_route_report(summary, tmp_path / "r.html").read_text()
    assert "3 labeled, 97 queued" in page and f"of {pg['answered']} gold" in page
    assert f"<li>alice: {pg['accuracy']:.1%} of {pg['answered']} gold" in page and "<li>bob:" not in page
    assert "labeled by people (their majority)</td><td>3<" in page


def test_without_people_the_last_stage_labels_the_rest_uncertified(project, tmp_path):
    cfg = tmp_path / "labelwise.yaml"
    cfg.write_text(cfg.read_text().replace('["fake:weak", "fake:strong", human]', '["fake:weak"]'))
    p = Project.open(tmp_path)
    weak = scripted("weak", lambda t: "easy" in t)
    stages = make_stages(p, p.config.route.stages, "margin", {"fake:weak": weak})
    res = run_route(p, stages, plan_route(p, stages))
    assert res.certified == 200 and res.uncertified == 100 and res.queued_for_people == 0


def test_human_must_be_last_and_stages_are_required(project):
    from labelwise.errors import ConfigError
    with pytest.raises(ConfigError, match="'human' must be the last"):
        make_stages(project, ["human", "fake:x"], "margin")
    with pytest.raises(ConfigError, match="route.stages is empty"):
        make_stages(project, [], "margin")


def test_confidence_of_a_stored_distribution():
    assert confidence_of({"a": 0.7, "b": 0.2, "c": 0.1}, "margin") == pytest.approx(0.5)
    assert confidence_of({"a": 0.7, "b": 0.3}, "top") == pytest.approx(0.7)
    assert confidence_of({"token_confidence": [0.9, 0.4, 0.99]}, "margin") == pytest.approx(0.4)
    assert confidence_of(None, "top") == 0.0
    # multilabel: one yes/no probability per label; the item is as sure as its least sure label
    assert confidence_of({"food": 0.9, "price": 0.3}, "margin", multilabel=True) == pytest.approx(0.4)
    assert confidence_of({"food": 0.9, "price": 0.3}, "top", multilabel=True) == pytest.approx(0.7)


def test_label_studio_export_has_predictions_and_marks_what_people_must_label(project, tmp_path):
    from labelwise.data.labelstudio import labeling_config
    weak = scripted("weak", lambda t: "easy" in t)
    strong = scripted("strong", lambda t: "easy" in t or "great" in t)
    stages = make_stages(project, project.config.route.stages, "margin", {"fake:weak": weak, "fake:strong": strong})
    run_route(project, stages, plan_route(project, stages))
    r = CliRunner().invoke(app, ["export", "-p", str(tmp_path), "--format", "labelstudio"])
    assert r.exit_code == 0, r.output
    tasks = json.loads((tmp_path / "labels.json").read_text())
    assert len(tasks) == 300
    by_id = {t["data"]["record_id"]: t for t in tasks}
    sure, queued = by_id["p1"], by_id["p0"]
    assert sure["predictions"][0]["result"][0]["value"]["choices"] == [truth(item(1))]
    assert sure["meta"] == {"labeled_by": "fake:weak", "certified": True, "needs_review": False}
    assert queued["meta"]["needs_review"] is True and queued["meta"]["labeled_by"] in ("fake/weak", "fake/strong")
    assert {x["model_version"] for x in queued["predictions"]} <= {"fake/weak", "fake/strong"}  # the stages' guesses
    assert sure["predictions"][0]["model_version"] == "route:fake:weak"
    assert queued["data"]["text"] == item(0)
    xml = labeling_config(["positive", "negative"], "text")
    assert '<Choices name="label" toName="text">' in xml and 'value="$text"' in xml
    assert (tmp_path / "labels.xml").read_text() == xml


def test_a_plan_stopped_by_the_budget_is_not_run(project, tmp_path):
    from labelwise.errors import LabelwiseError
    cfg = tmp_path / "labelwise.yaml"
    cfg.write_text(cfg.read_text() + "budget:\n  requests: 100\n")
    p = Project.open(tmp_path)
    weak = scripted("weak", lambda t: "easy" in t)
    stages = make_stages(p, p.config.route.stages, "margin", {"fake:weak": weak, "fake:strong": weak})
    plans = plan_route(p, stages)
    assert plans[0].stopped and "budget for requests reached" in plans[0].stopped and len(weak.asked) == 100
    with pytest.raises(LabelwiseError, match="route plan is incomplete"):
        run_route(p, stages, plans)
    assert p.store.routed(route_name(p)) == {}


def test_the_quantile_baseline_splits_by_rank_certifies_nothing_and_asks_each_stage_only_its_rest(project, tmp_path,
                                                                                                 monkeypatch):
    weak = scripted("weak", lambda t: "easy" in t)
    strong = scripted("strong", lambda t: True)
    fakes = {"fake:weak": weak, "fake:strong": strong}
    import labelwise.routing.stages as st
    real = st.make_stages
    monkeypatch.setattr(st, "make_stages", lambda p, specs, how, annotators=None: real(p, specs, how, fakes))
    calibrated = route_name(project)
    r = CliRunner().invoke(app, ["route", "-p", str(tmp_path), "--rule", "quantile", "--run"])
    assert r.exit_code == 0, r.output
    assert sorted(weak.asked) == list(range(300))  # no gold asked: the baseline uses none
    kept_by_weak = [n for n in range(300) if n % 3]  # its 200 sure items outrank the rest; it keeps half: 150
    assert len(strong.asked) == 150
    rc = project.config.route.model_copy(update={"rule": "quantile"})
    project.config = project.config.model_copy(update={"route": rc})
    routed = project.store.routed(route_name(project))
    assert route_name(project) != calibrated and len(routed) == 300
    by_weak = {int(rid[1:]) for rid, (s, *_x) in routed.items() if s == "fake:weak"}
    assert len(by_weak) == 150 and by_weak <= set(kept_by_weak)  # the top share by confidence
    assert {f"p{n}" for n in strong.asked} == {rid for rid, (s, *_x) in routed.items() if s == "fake:strong"}
    assert not any(cert for *_x, cert in routed.values())
    report = json.loads((tmp_path / "route_report.json").read_text())
    assert report["rule"] == "quantile" and [s["labeled"] for s in report["stages"]] == [150, 150]
    assert "No guarantee" in (tmp_path / "route_report.html").read_text()
    bad = CliRunner().invoke(app, ["route", "-p", str(tmp_path), "--rule", "magic"])
    assert bad.exit_code == 2 and "calibrated or quantile" in bad.output
