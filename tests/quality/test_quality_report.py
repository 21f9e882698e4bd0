"""`labelwise quality` on a real project file: two annotators and a repeat on the same items,
gold, injected label errors that the real small model's out-of-fold probabilities expose."""
import csv
import json
import math

import pytest
from typer.testing import CliRunner

from labelwise import Project
from labelwise.annotators.fake import FakeAnnotator
from labelwise.cli.app import app
from tests.conftest import write
from tests.models.conftest import NEGATIVE, POSITIVE

pytestmark = pytest.mark.real_model


def test_quality_report_has_gold_agreement_issues_and_a_datasheet(tmp_path, monkeypatch):
    texts = [(t, "positive") for t in POSITIVE] * 4 + [(t, "negative") for t in NEGATIVE] * 4
    rows = [(f"r{i}", f"{t} (visit {i})", lab) for i, (t, lab) in enumerate(texts)]
    with open(tmp_path / "data.csv", "w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows([("id", "text", "label"), *rows])
    write(tmp_path / "labelwise.yaml", """
task:
  kind: classification
  labels: {positive: likes it, negative: dislikes it}
data: {path: data.csv, id_field: id, label_field: label}
annotator: {backend: fake, model: llm}
""")
    wrong = {f"r{i}" for i in range(0, len(rows), 13)}  # 8 of 96 labels flipped, each on another sentence
    gold = {i: lab for i, _, lab in rows}

    def llm(q):
        text = q.messages[-1].content
        rid = next(i for i, t, _ in rows if t in text)
        lab = gold[rid] if rid not in wrong else ("negative" if gold[rid] == "positive" else "positive")
        return {lab: math.log(0.9), ("negative" if lab == "positive" else "positive"): math.log(0.1)}

    wrong2 = {f"r{i}" for i in range(5, len(rows), 11)}  # another model, other mistakes

    def llm2(q):
        rid = next(i for i, t, _ in rows if t in q.messages[-1].content)
        lab = gold[rid] if rid not in wrong2 else ("negative" if gold[rid] == "positive" else "positive")
        return {lab: math.log(0.8), ("negative" if lab == "positive" else "positive"): math.log(0.2)}

    import labelwise.project as project_module
    scripted = {"llm": FakeAnnotator(llm, model="llm"), "llm2": FakeAnnotator(llm2, model="llm2")}
    real = project_module.make_annotator
    monkeypatch.setattr(project_module, "make_annotator", lambda cfg: scripted.get(cfg.model) or real(cfg))
    p = Project.open(tmp_path)
    p.run()
    other = p.with_annotator("fake", "constant:positive")
    other.run(p.read_data())
    r = CliRunner().invoke(app, ["quality", "-p", str(tmp_path), "--queue"])
    assert r.exit_code == 0, r.output
    q = json.loads((tmp_path / "quality.json").read_text())
    acc = {g["annotator"]: g for g in q["gold_accuracy"]}
    assert acc["fake/llm"]["correct"] == 88 and acc["fake/constant:positive"]["correct"] == 48
    assert acc["fake/llm"]["lower"] < 88 / 96 < acc["fake/llm"]["upper"]
    (pair,) = q["agreement"]["pairs"]
    assert pair["items"] == 96 and pair["agreement"] == pytest.approx((48 - 4 + 4) / 96)
    li = q["label_issues"]
    flagged = {s["record_id"] for s in li["items"]}
    assert li["checked"] == 96 and len(flagged & wrong) >= 6 and li["flagged_that_are_wrong"] >= 6
    queued = {rid for rid, run, _ in p.store.review_queue() if run == "quality"}
    assert queued == flagged
    assert q["text"]["items"] == 96 and q["text"]["exact_duplicates"] == 0
    dims = {d["dimension"]: d for d in q["datasheet"]}
    assert "fake/llm (96 paid answers)" in dims["annotators"]["answer"] and dims["sources"]["source"] == "config data.path"
    page = (tmp_path / "quality.html").read_text()
    assert "Krippendorff" in page and "Suspect labels" in page and "data:image/png;base64," in page
    # several annotators: with a third, CROWDLAB ranks the constant annotator last
    assert {a["annotator"] for a in q["crowd"]["annotators"]} == {"fake/llm", "fake/constant:positive"}
    p.with_annotator("fake", "llm2").run(p.read_data())
    assert CliRunner().invoke(app, ["quality", "-p", str(tmp_path)]).exit_code == 0
    q3 = json.loads((tmp_path / "quality.json").read_text())
    crowd = {a["annotator"]: a for a in q3["crowd"]["annotators"]}
    assert set(crowd) == {"fake/llm", "fake/llm2", "fake/constant:positive"}
    assert crowd["fake/constant:positive"]["quality"] < min(crowd["fake/llm"]["quality"], crowd["fake/llm2"]["quality"])
    assert crowd["fake/constant:positive"]["worst_class"] == "positive"  # the class of its labels that is worst
    least = {i["record_id"] for i in q3["crowd"]["items"][:10]}
    assert len(least & (wrong | wrong2)) >= 5  # the least sure consensus: where a good model erred
    # near-duplicates: each sentence is there 4 times with another visit number; only those pair up
    nd = q["near_duplicates"]
    base = {i: t.rsplit(" (visit", 1)[0] for i, t, _ in rows}
    assert nd["checked"] == 96 and nd["pairs"] >= 24 * 6 // 2  # at least half of the 144 same-sentence pairs
    assert nd["threshold"] == 0.9 and nd["encoder"] == "all-MiniLM-L6-v2"
    assert all(base[d["a"]] == base[d["b"]] for d in nd["top"])
    assert "Near-duplicates" in page and "CROWDLAB" in page and "not probed" in page


def test_leakage_results_appear_in_the_report(tmp_path):
    from labelwise.leakage import summarize
    from labelwise.quality.report import leakage_summary
    write(tmp_path / "data.csv", "id,text\n1,a\n")
    write(tmp_path / "labelwise.yaml", "task: {kind: classification, labels: {a: one, b: other}}\ndata: {path: data.csv}\n")
    p = Project.open(tmp_path)
    assert "not probed" in leakage_summary(p)["skipped"]
    probes = [{"probe": "completion", "set": s, "score": {"exact": s == "real", "near": True}} for s in ("real", "control")]
    (tmp_path / "leakage.json").write_text(json.dumps({"annotator": "x/y", "records": 1, "rates": summarize(probes)}))
    got = leakage_summary(p)
    assert got["annotator"] == "x/y" and got["rates"]["completion_exact"]["real"]["hits"] == 1
