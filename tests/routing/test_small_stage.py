"""A committee of real small models (logreg on the real encoder) as the first route stage,
taught by a scripted LLM stage: trained on the teacher's labels of a pool sample, calibrated on
gold like any stage, fed the pool in batches, and taught what later stages labeled for the items
it forwarded. The LLM is asked only about what the committee left, and a rerun pays nothing."""
import math

import pytest

from labelwise import Project
from labelwise.errors import ConfigError
from labelwise.routing.router import plan_route, route_name, run_route
from labelwise.routing.small_stage import SmallModelStage
from labelwise.routing.stages import make_stages
from labelwise.annotators.fake import FakeAnnotator
from tests.conftest import write
from tests.routing.test_router import project  # noqa: F401  (the fixture)

pytestmark = pytest.mark.real_model


def text(i):
    """Two thirds say what they think; a third say "meh", and only the item number tells (n % 2)."""
    return f"item {i} " + ("meh" if i % 3 == 0 else "great" if i % 2 else "awful")


def right(t):
    n = int(t.split()[1])
    return "positive" if ("great" in t or ("meh" in t and n % 2)) else "negative"


def teacher():
    """Sure and right on everything, like a strong LLM."""
    asked = []

    def answer(q):
        t = q.messages[-1].content
        t = t[t.index("item "):].split("\n")[0]
        asked.append(int(t.split()[1]))
        good = right(t)
        return {good: math.log(0.98), ("negative" if good == "positive" else "positive"): math.log(0.02)}

    fake = FakeAnnotator(answer, model="strong")
    fake.asked = asked
    return fake


@pytest.fixture
def committee_project(tmp_path):
    write(tmp_path / "pool.csv", "id,text\n" + "".join(f"p{i},{text(i)}\n" for i in range(300)))
    write(tmp_path / "gold.csv", "id,text,label\n" + "".join(f"g{i},{text(1000 + i)},{right(text(1000 + i))}\n"
                                                            for i in range(360)))
    write(tmp_path / "labelwise.yaml", """
task:
  kind: classification
  labels: {positive: likes it, negative: dislikes it}
data: {path: pool.csv, id_field: id}
annotator: {backend: fake, model: "constant:positive"}
route:
  stages: [committee, "fake:strong", human]
  gold: gold.csv
  holdout: 0.25
  train_size: 60
  batch_size: 100
""")
    return Project.open(tmp_path)


def test_the_committee_learns_from_the_llm_and_keeps_what_it_may(committee_project):
    p = committee_project
    strong = teacher()
    stages = make_stages(p, p.config.route.stages, "margin", {"fake:strong": strong})
    assert isinstance(stages[0], SmallModelStage) and stages[0].teacher is stages[1] and stages[0].size == 3
    plans = plan_route(p, stages)
    taught = [n for n in strong.asked if n < 1000]
    assert len(taught) == len(set(taught)) == 60 and plans[0].trained_on == 60  # the teacher's sample of the pool
    assert plans[0].batches == 3 and plans[0].delta == pytest.approx(0.05 / 3)  # split over the batches
    th = plans[0].threshold
    assert th.threshold is not None, th.reason  # great vs awful: easy for the committee
    strong.asked.clear()
    res = run_route(p, stages, plans)
    assert [b["items"] for b in res.batches] == [100, 100, 100]
    by_committee = sum(b["kept"] for b in res.batches)
    assert by_committee == res.labeled["committee"] > 0
    routed = p.store.routed(route_name(p))
    forwarded = {rid for rid, (st, *_rest) in routed.items() if st != "committee"}
    asked = {f"p{n}" for n in strong.asked}
    assert asked <= forwarded  # the LLM is never asked about an item the committee kept
    assert sum(b["learned"] for b in res.batches) == len(forwarded) == stages[0].learned
    assert res.queued_for_people == 0 and len(routed) == 300
    assert all(lab == right(text(int(rid[1:]))) for rid, (st, lab, _, cert) in routed.items() if st != "committee")
    assert any(int(rid[1:]) % 3 == 0 for rid in forwarded)  # the "meh" items went on to the LLM
    paid = p.store.spent()["calls"]
    again = make_stages(p, p.config.route.stages, "margin", {"fake:strong": teacher()})
    run_route(p, again, plan_route(p, again))
    assert p.store.spent()["calls"] == paid  # the teacher's sample and every forwarded item replayed


def test_small_model_stages_come_first_and_need_a_teacher(project):  # noqa: F811
    with pytest.raises(ConfigError, match="must come first"):
        make_stages(project, ["fake:a", "committee"], "margin")
    with pytest.raises(ConfigError, match="needs an LLM stage after it"):
        make_stages(project, ["committee", "human"], "margin")
    with pytest.raises(ConfigError, match="small model"):
        make_stages(project, ["small:no-such-model", "fake:a"], "margin")
    assert make_stages(project, ["small:logreg", "fake:a"], "margin")[0].size == 1
