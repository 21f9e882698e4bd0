"""A review project on a real SQLite file: 30 items labeled by a scripted LLM (sure of some,
unsure of others), queued for people, with 10 gold rows."""
import csv
import math

import pytest

from labelwise import Project
from labelwise.annotators.fake import FakeAnnotator
from labelwise.cli.review_cmds import add_reviewer
from labelwise.review.server import ReviewState
from tests.conftest import write

EVIL = ["<script>window.__pwned = 1</script> great food", '<img src=x onerror="window.__pwned = 2"> awful service']


def make_project(tmp, n=30, gold=10, extra_yaml="", texts=None):
    texts = texts or [f"review number {i}: " + ("loved it" if i % 2 else "hated it") for i in range(n)]
    rows = [(f"r{i}", t, ("positive" if i % 2 else "negative") if i >= n - gold else "") for i, t in enumerate(texts)]
    with open(tmp / "data.csv", "w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows([("id", "text", "label"), *rows])
    write(tmp / "labelwise.yaml", f"""
task:
  kind: classification
  labels: {{positive: likes it, negative: dislikes it}}
data: {{path: data.csv, id_field: id, label_field: label}}
annotator: {{backend: fake, model: llm}}
{extra_yaml}""")
    p = Project.open(tmp)

    def llm(q):  # right on odd items, sure on items 0-9 only
        i = int(q.messages[-1].content.split("review number ")[1].split(":")[0]) if "review number" in \
            q.messages[-1].content else 0
        lab = "positive" if i % 2 else "negative"
        sure = 0.97 if i < 10 else 0.6
        return {lab: math.log(sure), ("negative" if lab == "positive" else "positive"): math.log(1 - sure)}

    p.__dict__["annotator"] = FakeAnnotator(llm, model="llm")
    p.run(watch_gold=False)
    p.store.queue_for_review("route/test", [r for r, _, g in rows if not g], "not certified by any stage")
    return p


@pytest.fixture
def project(tmp_path):
    return make_project(tmp_path)


@pytest.fixture
def state(project):
    return ReviewState(project, small_model=False)


@pytest.fixture
def tokens(project):
    return {name: add_reviewer(project, name) for name in ("alice", "bob")}
