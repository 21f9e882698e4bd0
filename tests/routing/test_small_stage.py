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


# -- the other task kinds: a committee of CRF taggers (NER) and of one-vs-rest models (multi-label)

PEOPLE = ["Maria", "John", "Aisha", "Kwame", "Lena", "Pedro", "Yuki", "Omar", "Sara", "Tom"]
PLACES = ["Paris", "Lagos", "Nairobi", "Lima", "Oslo", "Cairo", "Tokyo", "Quito", "Accra", "Rome"]
BOTH = ["Jordan", "Georgia", "Chad", "Florence", "Victoria", "Sydney"]  # a person's name and a place's


def sentence(i):
    """Three in four: a clear frame ("I met Maria in Lima yesterday ."); one in four: "Hello
    Jordan !", where only the item number says whether Jordan is a person (odd) or a place."""
    if i % 4 == 0:
        return [f"#{i}", "Hello", BOTH[i % len(BOTH)], "!"], ["O", "O", "B-person" if i % 8 == 4 else "B-location", "O"]
    frames = [("I met {p} in {c} yesterday .", 2, 4), ("{p} flew to {c} on Monday .", 0, 3),
              ("Later {p} moved to {c} for work .", 1, 4)]
    f, pi, ci = frames[i % 3]
    toks = f.format(p=PEOPLE[i % 10], c=PLACES[(i // 10) % 10]).split()
    tags = ["O"] * len(toks)
    tags[pi], tags[ci] = "B-person", "B-location"
    return [f"#{i}"] + toks, ["O"] + tags  # the number travels with the sentence, as a token


def ner_teacher(p):
    """Answers every sentence with its true tags, as a strong LLM would."""
    asked = []

    def answer(q):
        n = int(q.messages[-1].content.split("#", 1)[1].split()[0])
        asked.append(n)
        return p.task.answer_json(*sentence(n))

    fake = FakeAnnotator(answer, model="strong")
    fake.asked = asked
    return fake


def test_a_committee_of_crf_taggers_routes_ner(tmp_path):
    import json
    write(tmp_path / "pool.jsonl", "".join(json.dumps({"id": f"p{i}", "tokens": sentence(i)[0]}) + "\n"
                                           for i in range(200)))
    write(tmp_path / "gold.jsonl", "".join(json.dumps({"id": f"g{i}", "tokens": sentence(1000 + i)[0],
                                                       "label": sentence(1000 + i)[1]}) + "\n" for i in range(240)))
    write(tmp_path / "labelwise.yaml", """
task:
  kind: ner
  text_field: tokens
  labels: {person: names of people, location: places}
data: {path: pool.jsonl, id_field: id}
annotator: {backend: fake, model: "constant:"}
route:
  stages: [committee, "fake:strong", human]
  target_accuracy: 0.9
  gold: gold.jsonl
  holdout: 0.25
  train_size: 60
  batch_size: 100
""")
    p = Project.open(tmp_path)
    strong = ner_teacher(p)
    stages = make_stages(p, p.config.route.stages, "margin", {"fake:strong": strong})
    assert stages[0].model == "crf" and stages[0].size == 3
    plans = plan_route(p, stages)
    assert plans[0].trained_on == 60 and plans[0].threshold.threshold is not None, plans[0].threshold.reason
    strong.asked.clear()
    res = run_route(p, stages, plans)
    routed = p.store.routed(route_name(p))
    assert len(routed) == 200 and res.labeled["committee"] > 0
    kept = {rid: lab for rid, (st, lab, _, _) in routed.items() if st == "committee"}
    forwarded = set(routed) - set(kept)
    assert {f"p{n}" for n in strong.asked} <= forwarded and sum(b["learned"] for b in res.batches) == len(forwarded)
    assert sum(tuple(lab) == tuple(sentence(int(rid[1:]))[1]) for rid, lab in kept.items()) >= 0.9 * len(kept)
    hello = {f"p{i}" for i in range(0, 200, 4)}
    assert len(hello & forwarded) > len(hello) / 2  # the sentences nobody can tag from the text went on


def test_a_committee_of_one_vs_rest_models_routes_multilabel(tmp_path):
    import csv
    import random

    from tests.test_loop import ASPECTS, FILLER
    rng = random.Random(0)
    texts, truth = [], {}
    while len(texts) < 420:
        aspects = [a for a in ASPECTS if rng.random() < 0.45] or [rng.choice(list(ASPECTS))]
        parts = [rng.choice(ASPECTS[a]).capitalize() + "." for a in aspects] + [rng.choice(FILLER)]
        rng.shuffle(parts)
        t = " ".join(parts)
        if t not in truth:
            texts.append(t)
            truth[t] = sorted(aspects)
    with open(tmp_path / "pool.csv", "w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows([["id", "text"]] + [[f"p{i}", t] for i, t in enumerate(texts[:180])])
    with open(tmp_path / "gold.csv", "w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows([["id", "text", "label"]] +
                                [[f"g{i}", t, "|".join(truth[t])] for i, t in enumerate(texts[180:])])
    write(tmp_path / "labelwise.yaml", """
task:
  kind: multilabel
  labels: {service: the staff or service, food: the food or drinks, price: prices or value}
data: {path: pool.csv, id_field: id}
annotator: {backend: fake, model: "constant:no"}
route:
  stages: [committee, "fake:strong", human]
  target_accuracy: 0.85
  gold: gold.csv
  holdout: 0.25
  train_size: 120
  batch_size: 90
""")
    p = Project.open(tmp_path)
    asked = set()

    def oracle(q):  # one yes/no question per label, answered from the truth
        text, rest = q.messages[-1].content.split("Text: ", 1)[1].rsplit('\nDoes the label "', 1)
        asked.add(text)
        yes = rest.split('"', 1)[0] in truth[text]
        return {"yes": math.log(0.97 if yes else 0.03), "no": math.log(0.03 if yes else 0.97)}

    strong = {"fake:strong": FakeAnnotator(oracle, model="strong")}
    # the LLM alone: its sets come in schema order (service, food, price), gold's sorted; as sets, all right
    (alone, _people) = plan_route(p, make_stages(p, ["fake:strong", "human"], "margin", strong))
    assert alone.holdout_accuracy == 1.0 and alone.threshold.threshold is not None, alone.threshold.reason
    stages = make_stages(p, p.config.route.stages, "margin", strong)
    plans = plan_route(p, stages)
    assert plans[0].trained_on == 120
    assert plans[0].threshold.threshold is not None, plans[0].threshold.reason
    asked.clear()
    res = run_route(p, stages, plans)
    routed = p.store.routed(route_name(p))
    assert len(routed) == 180 and res.labeled["committee"] > 0
    by_text = dict(zip([f"p{i}" for i in range(180)], texts[:180]))
    kept = {rid: lab for rid, (st, lab, _, _) in routed.items() if st == "committee"}
    assert {by_text[rid] for rid in routed if rid not in kept} >= asked
    assert sum(set(lab) == set(truth[by_text[rid]]) for rid, lab in kept.items()) >= 0.85 * len(kept)
