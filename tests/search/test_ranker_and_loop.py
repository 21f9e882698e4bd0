"""The `ranker` small model (real MiniLM, fine-tuned on graded pairs) against its base (the
un-fine-tuned encoder), and the active-learning loop on a relevance project with `ci`."""
import json
import math

import numpy as np
import pytest

from labelwise import Project
from labelwise.annotators.fake import FakeAnnotator
from labelwise.loop import ActiveLearningLoop
from labelwise.models.base import make_small_model
from tests.conftest import write

pytestmark = [pytest.mark.real_model, pytest.mark.slow]
pytest.importorskip("sentence_transformers")

TOPICS = {
    "boiling eggs for breakfast": ["Boil the eggs for six minutes for a soft yolk.", "Hard boiled eggs need ten minutes."],
    "fixing a flat bicycle tyre": ["Remove the tube, find the hole and patch it.", "Pump the new tube to the printed pressure."],
    "planting tomatoes in spring": ["Plant tomato seedlings after the last frost.", "Tomatoes need sun and regular water."],
    "learning to play the guitar": ["Start with open chords like G, C and D.", "Practice changing chords slowly every day."],
}


def graded_pairs():
    rows = []
    for q, docs in TOPICS.items():
        for other, odocs in TOPICS.items():
            for j, d in enumerate(docs if other == q else odocs[:1]):
                rows.append((q, d, 3 - j if other == q else 0))
    return rows


def test_fine_tuning_moves_the_ranker_away_from_its_base():
    rows = graded_pairs()
    X, y = [(q, d) for q, d, _ in rows], [str(g) for _, _, g in rows]
    m = make_small_model("ranker", epochs=4, seed=0).fit(X, y)
    assert list(m.classes_) == ["3", "2", "1", "0"]
    p = m.predict_proba(X)
    assert p.shape == (len(X), 4) and np.allclose(p.sum(1), 1)
    score = m.score(X)
    relevant = np.array([g > 0 for *_, g in rows])
    assert score[relevant].mean() > score[~relevant].mean() + 0.5  # it learned the grades
    base = m.base_proba(X)
    assert base.shape == p.shape and np.abs(p - base).sum() > 0.1  # ci has something to measure
    cos = m.base_score(X)
    assert np.all((cos > -1.01) & (cos < 1.01))


def test_relevance_loop_with_ci_buys_llm_grades_and_reports_ndcg(tmp_path):
    rows = []
    for i, (q, d, g) in enumerate(graded_pairs() * 3):
        rows.append({"id": f"p{i}", "query": q + ("" if i < 12 * 3 else " please"), "document": d, "label": g,
                     "split": "test" if i % 4 == 0 else "train"})
    write(tmp_path / "pairs.jsonl", "".join(json.dumps(r) + "\n" for r in rows))
    write(tmp_path / "labelwise.yaml", """
task: {kind: relevance, text_field: query, text_pair_field: document}
data: {path: pairs.jsonl, id_field: id, label_field: label, split_field: split}
annotator: {backend: fake, model: grader}
""")
    p = Project.open(tmp_path)
    gold = {r["query"] + "\x1f" + r["document"]: r["label"] for r in rows}

    def grader(q):  # a judge that knows the grades
        text = q.messages[-1].content
        key = text.split("Query: ")[1].split("\nDocument: ")[0] + "\x1f" + text.split("Document: ")[1].split("\nGrade:")[0]
        g = str(gold[key])
        return {c: math.log(0.85 if c == g else 0.05) for c in q.choices}

    p.__dict__["annotator"] = FakeAnnotator(grader, model="grader")
    loop = ActiveLearningLoop(p, strategy="ci", budget=30, rounds=2, seed_size=14, seed=0)
    results = loop.run()
    assert [r["round"] for r in results] == [0, 1, 2] and results[-1]["llm_labels"] == 30
    assert results[-1]["metric"] == "ndcg@10"
    test = results[-1]["test"]["source"]
    assert test["n"] >= 3 and test["ndcg@10"] > 0.8  # it ranks the relevant documents first
    assert results[-1]["llm_label_accuracy"] == 1.0
