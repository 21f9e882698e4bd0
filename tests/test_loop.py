"""The active-learning loop with the real small model (MiniLM embeddings + logistic regression)
and a scripted annotator that answers with the human label (an oracle), on a real project."""
import csv
import math
from importlib import resources

import pytest

from labelwise.annotators.fake import FakeAnnotator
from labelwise.loop import ActiveLearningLoop
from labelwise.project import Project
from labelwise.report import write_report

pytestmark = [pytest.mark.real_model]


@pytest.fixture
def project(tmp_path):
    return make_project(tmp_path)


def make_project(tmp_path):
    tmp_path.mkdir(parents=True, exist_ok=True)
    src = resources.files("labelwise").joinpath("demo_data", "yelp_reviews.csv").read_text(encoding="utf-8")
    rows = list(csv.DictReader(src.splitlines()))
    with open(tmp_path / "data.csv", "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["id", "text", "label", "split", "domain"])
        for i, r in enumerate(rows):
            split = "test" if i >= 140 else "pool"
            domain = ("target" if i >= 170 else "") if split == "test" else ""
            w.writerow([r["id"], r["text"], r["label"], split, domain])
    (tmp_path / "labelwise.yaml").write_text(
        "task:\n  labels: {positive: likes it, negative: dislikes it}\n"
        "data:\n  path: data.csv\n  id_field: id\n  label_field: label\n  split_field: split\n  domain_field: domain\n"
        "annotator:\n  backend: fake\n")
    p = Project.open(tmp_path)
    gold = {r.fields["text"]: r.gold for r in p.read_data()}

    def oracle(q):
        text = q.messages[-1].content.split("Text: ", 1)[1].rsplit("\nLabel:", 1)[0]
        g = gold[text]
        return {"positive": math.log(0.95 if g == "positive" else 0.05),
                "negative": math.log(0.05 if g == "positive" else 0.95)}

    fake = FakeAnnotator(oracle, model="oracle")
    p.__dict__["annotator"] = fake  # the project's annotator, scripted
    return p, fake


def crash_after_round_1(result):
    """An on_round hook that stops the process like Ctrl-C right after round 1 is stored."""
    if result["round"] == 1:
        raise KeyboardInterrupt


def test_each_round_trains_the_small_model_once(project, monkeypatch):
    """Selection reuses the model trained at the end of the previous round (fine-tuned models
    cost minutes per fit); only a resumed loop rebuilds it, once."""
    import labelwise.loop as loop_module
    fits = []
    real = loop_module.make_small_model

    def counting(*a, **k):
        m = real(*a, **k)
        fit = m.fit
        m.fit = lambda X, y: (fits.append(len(y)), fit(X, y))[1]
        return m

    monkeypatch.setattr(loop_module, "make_small_model", counting)
    p, _ = project
    ActiveLearningLoop(p, strategy="entropy", budget=50, rounds=3, seed=0, seed_size=20).run()
    assert fits == [20, 30, 40, 50]


def test_a_resumed_loop_selects_what_an_uninterrupted_one_does(tmp_path):
    whole, _ = make_project(tmp_path / "whole")
    expected = ActiveLearningLoop(whole, strategy="margin", budget=50, rounds=3, seed=4, seed_size=20).run()

    cut, _ = make_project(tmp_path / "cut")

    with pytest.raises(KeyboardInterrupt):
        ActiveLearningLoop(cut, strategy="margin", budget=50, rounds=3, seed=4, seed_size=20,
                           on_round=crash_after_round_1).run()
    again = ActiveLearningLoop(cut, strategy="margin", budget=50, rounds=3, seed=4, seed_size=20)
    resumed = again.run()
    name = again.run_name
    assert name.startswith("margin/b50/s4/logreg/")
    assert [r["round"] for r in resumed] == [0, 1, 2, 3]
    assert [sorted(lab) for _, _, lab, _ in cut.store.rounds(name)] == \
        [sorted(lab) for _, _, lab, _ in whole.store.rounds(name)]
    assert resumed[-1]["test"] == expected[-1]["test"]


@pytest.mark.parametrize("strategy", ["entropy", "ci", "diversity", "committee", "random"])
def test_loop_buys_exactly_the_budget_and_learns(project, strategy):
    p, fake = project
    loop = ActiveLearningLoop(p, strategy=strategy, budget=40, rounds=2, seed=0, seed_size=20)
    results = loop.run()
    assert [r["round"] for r in results] == [0, 1, 2]
    assert results[-1]["llm_labels"] == 40 and fake.calls == 40
    assert results[-1]["llm_label_accuracy"] == 1.0  # the oracle's labels reached the store intact
    final = results[-1]["test"]
    assert set(final) == {"source", "target"}
    # MiniLM + LogReg on 40 clean labels is clearly above chance (0.5) on 60 held-out sentences
    assert (final["source"]["accuracy"] + final["target"]["accuracy"]) / 2 >= 0.6


def test_final_labels_cover_the_pool(project):
    p, _ = project
    loop = ActiveLearningLoop(p, strategy="margin", budget=25, rounds=1, seed=2, seed_size=20)
    loop.run()
    rows = loop.final_labels()
    assert len(rows) == 140 and len({r["id"] for r in rows}) == 140
    assert sum(r["source"] == "llm" for r in rows) == 25
    assert all(0.5 <= r["confidence"] <= 1 for r in rows if r["source"] == "small_model")


def test_loop_resumes_at_last_finished_round_and_reuses_answers(project):
    p, fake = project
    ActiveLearningLoop(p, strategy="entropy", budget=30, rounds=1, seed=1, seed_size=20).run()
    assert fake.calls == 30
    # a longer loop with the same name picks up after round 1 instead of starting over
    again = ActiveLearningLoop(p, strategy="entropy", budget=30, rounds=1, seed=1, seed_size=20).run()
    assert len(again) == 2 and fake.calls == 30
    # another strategy on the same pool pays only for items nobody bought yet
    ActiveLearningLoop(p, strategy="random", budget=30, rounds=1, seed=1, seed_size=20).run()
    assert fake.calls < 60


def test_report_is_one_html_file_with_plots_and_json(project, tmp_path):
    p, _ = project
    for seed in (0, 1):
        loop = ActiveLearningLoop(p, strategy="entropy", budget=30, rounds=1, seed=seed, seed_size=20)
        loop.run()
    series = loop.run_name.replace("/s1/", "/")  # the report averages over the seed part of a run's name
    assert series.startswith("entropy/b30/logreg/")
    results = [res for _, _, _, res in p.store.rounds()]
    out = write_report(results, tmp_path / "r.html", pool_size=140, cost_per_llm_label=0.001,
                       seconds_per_llm_label=0.5, human_price_per_label=0.08)
    html = out.read_text()
    assert html.count("data:image/png;base64,") == 2  # one plot per test domain
    assert series in html and "$11.20" in html  # 140 labels x $0.08 by hand
    import json
    fig = json.loads(out.with_suffix(".json").read_text())
    assert list(fig["series"]) == [series] and fig["series"][series][-1]["seeds"] == 2


def test_report_plots_against_money_when_the_llm_was_paid_for(tmp_path):
    """Round results as the loop stores them (money = what that round spent): the report adds
    money totals per seed and a plot per domain against them; free runs get a note instead."""
    def res(seed, rnd, money, acc):
        return {"run": f"entropy/b20/logreg/s{seed}", "strategy": "entropy", "seed": seed, "round": rnd,
                "llm_labels": 10 * (rnd + 1), "calls": 10, "money": money, "metric": "accuracy",
                "label_counts": {"pos": 5}, "llm_label_accuracy": 0.9,
                "test": {"source": {"n": 50, "accuracy": acc}, "target": {"n": 50, "accuracy": acc - 0.1}}}
    paid = [res(0, 0, 0.01, 0.6), res(0, 1, 0.02, 0.7), res(1, 0, 0.03, 0.5), res(1, 1, 0.02, 0.8)]
    out = write_report(paid, tmp_path / "paid.html", pool_size=100, cost_per_llm_label=0.002,
                       seconds_per_llm_label=1.0, human_price_per_label=0.08)
    html = out.read_text()
    assert html.count("data:image/png;base64,") == 4 and "against money" in html
    import json
    rows = json.loads(out.with_suffix(".json").read_text())["series"]["entropy/b20/logreg"]
    assert [r["money_spent"] for r in rows] == pytest.approx([0.02, 0.04])  # seed 0: .01,.03; seed 1: .03,.05
    assert [r["calls_paid"] for r in rows] == [10, 20]
    free = [{**r, "money": 0.0} for r in paid]
    html = write_report(free, tmp_path / "free.html", pool_size=100, cost_per_llm_label=0.0,
                        seconds_per_llm_label=1.0, human_price_per_label=0.08).read_text()
    assert html.count("data:image/png;base64,") == 2 and "Every LLM call was free" in html


def test_uncertainty_names_the_task_kinds_own_measure(project):
    p, _ = project
    assert ActiveLearningLoop(p, strategy="uncertainty", budget=30, rounds=1).strategy == "entropy"
    assert ActiveLearningLoop(p, strategy=None, budget=30, rounds=1).run_name.startswith("entropy/")


def test_loop_stops_early_once_predictions_are_stable(project):
    p, fake = project
    # any change below 100% counts as stable: the loop stops after the first round that can compare
    results = ActiveLearningLoop(p, strategy="entropy", budget=60, rounds=4, seed=0, seed_size=20,
                                 stable_rounds=1, stable_change=1.0).run()
    assert [r["round"] for r in results] == [0, 1]
    assert results[0]["prediction_change"] is None and 0 <= results[1]["prediction_change"] < 1
    assert results[-1]["stable_stop"] and fake.calls == 30  # the other 30 labels of the budget stay unspent
    # running it again neither buys nor trains on: the stop is stored with the round
    again = ActiveLearningLoop(p, strategy="entropy", budget=60, rounds=4, seed=0, seed_size=20,
                               stable_rounds=1, stable_change=1.0).run()
    assert len(again) == 2 and fake.calls == 30


def test_a_threshold_nothing_meets_never_stops_the_loop(project):
    p, fake = project
    results = ActiveLearningLoop(p, strategy="entropy", budget=50, rounds=3, seed=0, seed_size=20,
                                 stable_rounds=1, stable_change=0.0).run()
    assert [r["round"] for r in results] == [0, 1, 2, 3] and fake.calls == 50
    assert not any(r["stable_stop"] for r in results)


def test_the_stability_rule_survives_a_resume(tmp_path):
    p, fake = make_project(tmp_path)

    with pytest.raises(KeyboardInterrupt):
        ActiveLearningLoop(p, strategy="entropy", budget=50, rounds=3, seed=0, seed_size=20, stable_rounds=2,
                           stable_change=1.0, on_round=crash_after_round_1).run()
    # one stable round was seen before the crash; the second comes after the resume and stops the loop
    results = ActiveLearningLoop(p, strategy="entropy", budget=50, rounds=3, seed=0, seed_size=20,
                                 stable_rounds=2, stable_change=1.0).run()
    assert [r["round"] for r in results] == [0, 1, 2] and results[-1]["stable_stop"] and fake.calls == 40


def test_report_says_which_runs_stopped_early(project, tmp_path):
    p, _ = project
    stopped = ActiveLearningLoop(p, strategy="entropy", budget=60, rounds=4, seed=0, seed_size=20,
                                 stable_rounds=1, stable_change=1.0).run()
    full = ActiveLearningLoop(p, strategy="random", budget=40, rounds=2, seed=0, seed_size=20).run()
    html = write_report(stopped + full, tmp_path / "stops.html", pool_size=140, cost_per_llm_label=0.0,
                        seconds_per_llm_label=1.0, human_price_per_label=0.1).read_text()
    rows = {r.split("</td>")[0].rsplit("/", 1)[0]: r.split("</tr>")[0] for r in html.split("<tr><td>")[1:]}
    assert rows["entropy/b60/logreg"].endswith("<td>1 of 1 seeds</td>")  # (series name less its hash)
    assert rows["random/b40/logreg"].endswith("<td>–</td>")


# -- multi-label: one yes/no small model per label, uncertainty over the per-label probabilities --

ASPECTS = {
    "food": ["the pasta was delicious", "our pizza came out perfectly crispy", "the curry was full of flavour",
             "the soup was cold and bland", "my burger was greasy and burnt", "the fish tasted off",
             "fresh sushi and tasty dumplings", "the dessert was heavenly"],
    "price": ["it was far too expensive for what you get", "prices are very reasonable", "the bill was outrageous",
              "great value for money", "the lunch deal is cheap", "drinks are overpriced",
              "we paid a fortune", "affordable for a family"],
    "service": ["the waiter was rude to us", "staff were friendly and attentive", "we waited an hour to be served",
                "our server was lovely", "nobody came to take our order", "the host greeted us warmly",
                "the manager ignored our complaint", "service was quick"],
}
FILLER = ["We went there on a Friday.", "It is near the station.", "I came with my family.", "The place was busy.",
          "We sat by the window.", "It was my second visit."]


def make_multilabel_project(tmp_path, n=200, n_test=50):
    """Restaurant reviews about one to three aspects, 150 pool items and 50 test items, and an
    oracle annotator that answers each per-label question with the gold set's yes or no."""
    import random
    rng = random.Random(0)
    tmp_path.mkdir(parents=True, exist_ok=True)
    gold = {}
    with open(tmp_path / "data.csv", "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["id", "text", "labels", "split"])
        for i in range(n):
            text = None
            while text is None or text in gold:  # distinct texts: one record per question asked
                aspects = [a for a in ASPECTS if rng.random() < 0.45] or [rng.choice(list(ASPECTS))]
                parts = [rng.choice(ASPECTS[a]).capitalize() + "." for a in aspects] + [rng.choice(FILLER)]
                rng.shuffle(parts)
                text = " ".join(parts)
            gold[text] = set(aspects)
            w.writerow([f"r{i}", text, "|".join(aspects), "test" if i >= n - n_test else "pool"])
    (tmp_path / "labelwise.yaml").write_text(
        "task:\n  kind: multilabel\n  instructions: Which aspects of the restaurant does the review discuss?\n"
        "  labels: {food: the food or drinks, price: prices or value, service: the staff or service}\n"
        "data:\n  path: data.csv\n  id_field: id\n  label_field: labels\n  split_field: split\n"
        "annotator:\n  backend: fake\n")
    p = Project.open(tmp_path)

    def oracle(q):
        text, rest = q.messages[-1].content.split("Text: ", 1)[1].rsplit('\nDoes the label "', 1)
        yes = rest.split('"', 1)[0] in gold[text]
        return {"yes": math.log(0.95 if yes else 0.05), "no": math.log(0.05 if yes else 0.95)}

    fake = FakeAnnotator(oracle, model="aspect-oracle")
    p.__dict__["annotator"] = fake
    return p, fake


@pytest.mark.parametrize("strategy,balance", [("uncertainty", False), ("max_token_entropy", False),
                                              ("sequence_least_confidence", True), ("ci", False),
                                              ("diversity", False), ("committee", False), ("random", False)])
def test_a_multilabel_loop_buys_the_budget_and_learns(tmp_path, strategy, balance):
    from labelwise.quality.classification_metrics import multilabel_report
    p, fake = make_multilabel_project(tmp_path)
    loop = ActiveLearningLoop(p, strategy=strategy, budget=60, rounds=2, seed=0, seed_size=20, class_balance=balance)
    results = loop.run()
    assert [r["round"] for r in results] == [0, 1, 2] and results[-1]["llm_labels"] == 60
    assert fake.calls == 60 * 3  # one yes/no question per label
    assert results[-1]["metric"] == "micro_f1" and results[-1]["llm_label_accuracy"] == 1.0
    assert set(results[-1]["label_counts"]) == {"food", "price", "service"}
    assert all(0 < v < 60 for v in results[-1]["label_counts"].values())
    # MiniLM + one LogReg per aspect on 60 clean label sets finds the aspects in held-out reviews,
    # clearly better than answering every aspect for every review (micro-F1 0.70 here)
    test = [r for r in p.read_data() if r.split == "test"]
    every = multilabel_report([r.gold for r in test], [p.task.labels] * len(test), p.task.labels)["micro_f1"]
    assert every < 0.72 and results[-1]["test"]["source"]["micro_f1"] >= 0.8
    rows = loop.final_labels()
    assert len(rows) == 150 and sum(r["source"] == "llm" for r in rows) == 60
    predicted = [r for r in rows if r["source"] == "small_model"]
    assert all(isinstance(r["label"], list) and set(r["label"]) <= {"food", "price", "service"} for r in predicted)
    assert all(0 < r["confidence"] <= 1 for r in predicted)


def test_multilabel_uncertainty_picks_items_the_model_is_unsure_of(tmp_path):
    """The default strategy ranks by mean per-label entropy: what it picks in round 1 is less
    certain, on average, than what random picks from the same model's pool."""
    from labelwise.strategies.scoring import mean_token_entropy
    p, _ = make_multilabel_project(tmp_path)
    unsure = ActiveLearningLoop(p, strategy=None, budget=30, rounds=1, seed=0, seed_size=20)
    assert unsure.strategy == "mean_token_entropy"
    unsure.run()
    rand = ActiveLearningLoop(p, strategy="random", budget=30, rounds=1, seed=0, seed_size=20)
    rand.run()
    (_, _, seed_set, _), (_, _, after_unsure, _) = p.store.rounds(unsure.run_name)
    after_random = p.store.rounds(rand.run_name)[1][2]
    assert set(seed_set) <= set(after_random)  # the same seed set, so the same round-0 model
    pool = [r for r in p.store.records() if r.split != "test"]
    by_id = {r.id: r for r in pool}
    model = unsure._fit(by_id, seed_set)
    state = unsure.kind.pool_state(model, pool, seed_set, {"token_marginals"})
    score = dict(zip(state.ids, mean_token_entropy(state.token_marginals)))
    picked_unsure = [score[i] for i in after_unsure if i not in seed_set]
    picked_random = [score[i] for i in after_random if i not in seed_set]
    unlabeled = sorted((score[i] for i in score if i not in seed_set), reverse=True)
    assert sorted(picked_unsure, reverse=True) == pytest.approx(unlabeled[:10])  # the 10 most uncertain
    assert sum(picked_unsure) / 10 > sum(picked_random) / 10


def test_a_resumed_multilabel_loop_selects_what_an_uninterrupted_one_does(tmp_path):
    """Resumed rounds come back from JSON with label sets as lists; the loop treats them alike."""
    whole, _ = make_multilabel_project(tmp_path / "whole")
    expected = ActiveLearningLoop(whole, strategy=None, budget=40, rounds=2, seed=1, seed_size=20).run()
    cut, fake = make_multilabel_project(tmp_path / "cut")
    with pytest.raises(KeyboardInterrupt):
        ActiveLearningLoop(cut, strategy=None, budget=40, rounds=2, seed=1, seed_size=20,
                           on_round=crash_after_round_1).run()
    loop = ActiveLearningLoop(cut, strategy=None, budget=40, rounds=2, seed=1, seed_size=20)
    resumed = loop.run()
    assert fake.calls == 40 * 3
    assert sorted(cut.store.rounds(loop.run_name)[-1][2]) == sorted(whole.store.rounds(loop.run_name)[-1][2])
    assert resumed[-1]["test"] == expected[-1]["test"]


def loved_is_positive(asked: list | None = None) -> FakeAnnotator:
    """A scripted LLM that is right on texts saying "loved"/"hated" (90% sure), recording prompts."""
    def llm(q):  # noqa: ANN001, ANN202
        if asked is not None:
            asked.append(q.messages[-1].content)
        return {c: math.log(0.9 if ("loved" in q.messages[-1].content) == (c == "positive") else 0.1) for c in q.choices}
    return FakeAnnotator(llm)


def test_each_round_stores_what_the_strategy_picked_and_why(tmp_path):
    """Inspectable choices: the picks of every round, with their scores and domains, and how the
    model that chose them did on the picks that have gold."""
    from labelwise.strategies import make_strategy
    from tests.conftest import write
    rows = [f"r{i},{'loved' if i % 2 else 'hated'} it number {i},{'positive' if i % 2 else 'negative'},"
            f"{'shop' if i < 30 else 'film'}" for i in range(60)]
    write(tmp_path / "data.csv", "id,text,label,domain\n" + "\n".join(rows) + "\n")
    write(tmp_path / "labelwise.yaml", "task: {kind: classification, labels: {positive: liked, negative: not}}\n"
          "data: {path: data.csv, id_field: id, label_field: label, domain_field: domain}\n"
          "annotator: {backend: fake, model: llm}\n")
    p = Project.open(tmp_path)
    p.__dict__["annotator"] = loved_is_positive()
    assert make_strategy("entropy").needs == ("proba",) and make_strategy("ci").needs == ("finetuned_score", "base_score")
    assert make_strategy("diversity").needs == ("embeddings",)
    results = ActiveLearningLoop(p, strategy="entropy", budget=20, rounds=2, seed_size=10, seed=0,
                                 test_split="none").run()
    sel = results[1]["selection"]
    assert len(sel["picks"]) == 5 and all(pk["score"] is not None for pk in sel["picks"])
    assert sum(sel["picks_by_domain"].values()) == 5 and set(sel["picks_by_domain"]) <= {"shop", "film"}
    assert sel["picks_with_gold"] == 5 and 0.0 <= sel["model_accuracy_on_picks"] <= 1.0
    scores = [pk["score"] for pk in sel["picks"]]
    assert scores == sorted(scores, reverse=True)  # most uncertain first
    assert "seed" in results[0]["selection"]["note"]
    stored = p.store.rounds(results[0]["run"])
    assert stored[1][3]["selection"] == sel


def test_initial_train_and_a_pool_from_other_domains(tmp_path):
    """The paper's setting: a source set with gold trains the model first; the budget buys LLM
    labels only from the pool (any domains); the data file supplies the test set."""
    from tests.conftest import write

    def rows(n, start, domain, with_label=True):
        return "".join(f"{domain[0]}{i},{'loved' if i % 2 else 'hated'} the {domain} {i}"
                       + (f",{'positive' if i % 2 else 'negative'}" if with_label else ",") + f",{domain}\n"
                       for i in range(start, start + n))
    head = "id,text,label,domain\n"
    write(tmp_path / "source.csv", head + rows(20, 0, "shop"))
    write(tmp_path / "pool.csv", head + rows(20, 100, "shop", False) + rows(20, 200, "film", False))
    write(tmp_path / "data.csv", head + rows(10, 300, "shop") + rows(10, 400, "film"))
    write(tmp_path / "labelwise.yaml", "task: {kind: classification, labels: {positive: liked, negative: not}}\n"
          "data: {path: data.csv, id_field: id, label_field: label, domain_field: domain}\n"
          "annotator: {backend: fake, model: llm}\n"
          "loop: {initial_train: source.csv, pool: pool.csv, seed_size: 6, budget: 12, rounds: 2}\n")
    p = Project.open(tmp_path)
    asked = []
    p.__dict__["annotator"] = loved_is_positive(asked)
    c = p.config.loop
    loop = ActiveLearningLoop(p, strategy="entropy", budget=c.budget, rounds=c.rounds, seed_size=c.seed_size,
                              initial_train=c.initial_train, pool_path=c.pool)
    results = loop.run()
    assert results[-1]["llm_labels"] == 12 and len(asked) == 12
    bought = set(p.store.rounds(loop.run_name)[-1][2])
    assert len(bought) == 12 and all(i.startswith("pool:") for i in bought)  # only pool items are bought
    tests = [f"the shop {i}" for i in range(300, 310)] + [f"the film {i}" for i in range(400, 410)]
    assert not any(t in a for t in tests for a in asked)  # nor any test item asked about
    assert "picks_by_domain" in results[0]["selection"]  # round 0 chosen by the source-trained model
    assert set(results[-1]["test"]) == {"shop", "film"} and results[-1]["test"]["film"]["n"] == 10
    assert len(loop.source_records) == 20 and all(r.id.startswith("train:") for r in loop.source_records)


def test_items_people_labeled_are_not_bought_and_their_label_is_used(tmp_path):
    from labelwise.review.answers import human_annotation
    from tests.conftest import write
    write(tmp_path / "data.csv", "id,text\n" + "".join(f"r{i},{'loved' if i % 2 else 'hated'} it {i}\n"
                                                       for i in range(10)))
    write(tmp_path / "labelwise.yaml", "task: {kind: classification, labels: {positive: liked, negative: not}}\n"
          "data: {path: data.csv, id_field: id}\nannotator: {backend: fake, model: llm}\n")
    p = Project.open(tmp_path)
    asked = []
    p.__dict__["annotator"] = loved_is_positive(asked)
    records = p.load_records()
    for r in records:  # a person answered every item, contradicting the LLM on r0
        label = "positive" if (r.id == "r0" or "loved" in r.fields["text"]) else "negative"
        p.store.put_human_answer(human_annotation(p.task, r, "alice", label, 2.0, 0.05), "alice", None)
    res = ActiveLearningLoop(p, strategy="random", budget=10, rounds=1, seed_size=5, test_split="none").run()
    assert asked == [] and res[-1]["calls"] == 0 and res[-1]["from_people"] == 5
    labeled = p.store.rounds(res[-1]["run"])[-1][2]
    assert len(labeled) == 10 and labeled["r0"] == "positive"  # every item; r0 has the person's label, not the LLM's
    assert sum(v == "positive" for v in labeled.values()) == 6
