"""The loop against what it must never do: buy past its budget (the seed round included), mix up
runs that bought from another annotator or on another schedule, or start a multi-label loop
with a strategy that cannot read multi-label probabilities. Annotators are the config's own
``fake`` backend (``model: constant:LABEL``); the small model is the real MiniLM + LogReg."""
import csv
from importlib import resources

import pytest

from labelwise.errors import ConfigError
from labelwise.loop import ActiveLearningLoop
from labelwise.project import Project

pytestmark = [pytest.mark.real_model]

YAML = ("task:\n  labels: {{positive: likes it, negative: dislikes it}}\n{instructions}"
        "data:\n  path: data.csv\n  id_field: id\n  label_field: label\n  split_field: split\n"
        "annotator:\n  backend: fake\n  model: \"constant:{label}\"\n")


def make_project(path, label="positive", instructions=""):
    """The yelp demo (140 pool items, 60 test) answered by a constant fake; reopened on the same
    database when the yaml changes, as `labelwise loop` after an edit would."""
    path.mkdir(parents=True, exist_ok=True)
    if not (path / "data.csv").exists():
        src = resources.files("labelwise").joinpath("demo_data", "yelp_reviews.csv").read_text(encoding="utf-8")
        with open(path / "data.csv", "w", newline="", encoding="utf-8") as f:
            w = csv.writer(f)
            w.writerow(["id", "text", "label", "split"])
            for i, r in enumerate(csv.DictReader(src.splitlines())):
                w.writerow([r["id"], r["text"], r["label"], "test" if i >= 140 else "pool"])
    ins = f"  instructions: {instructions}\n" if instructions else ""
    (path / "labelwise.yaml").write_text(YAML.format(label=label, instructions=ins))
    return Project.open(path)


def bought(p):
    """(annotations stored, calls in the ledger) for the project's annotator."""
    anns = p.store.annotations(p.annotator.id, p.task.template_hash)
    return len(anns), int(p.store.spent()["calls"])


def test_a_seed_larger_than_the_budget_buys_only_the_budget(tmp_path):
    p = make_project(tmp_path)
    results = ActiveLearningLoop(p, strategy="entropy", budget=30, rounds=2, seed_size=50).run()
    assert bought(p) == (30, 30)
    assert [r["round"] for r in results] == [0] and results[0]["llm_labels"] == 30 == results[0]["calls"]
    # seed_size 50 and 60 buy the same 30 labels under budget 30: one run, resumed, nothing bought
    again = ActiveLearningLoop(p, strategy="entropy", budget=30, rounds=2, seed_size=60).run()
    assert len(again) == 1 and bought(p) == (30, 30)


def test_no_round_takes_the_total_past_the_budget(tmp_path):
    p = make_project(tmp_path)
    # (45 - 20) / 2 rounds -> 13 a round; the last round gets only the 12 left
    results = ActiveLearningLoop(p, strategy="random", budget=45, rounds=2, seed_size=20).run()
    assert [r["llm_labels"] for r in results] == [20, 33, 45]
    assert [r["calls"] for r in results] == [20, 13, 12]
    assert bought(p) == (45, 45)


def test_another_annotator_is_another_run_with_its_own_calls(tmp_path):
    first = make_project(tmp_path, label="positive")
    a = ActiveLearningLoop(first, strategy="entropy", budget=25, rounds=1, seed_size=20).run()
    assert bought(first) == (25, 25)

    second = make_project(tmp_path, label="negative")  # same pool, same database, another LLM
    b = ActiveLearningLoop(second, strategy="entropy", budget=25, rounds=1, seed_size=20).run()
    assert ActiveLearningLoop(first, strategy="entropy", budget=25, rounds=1, seed_size=20).run_name != \
        ActiveLearningLoop(second, strategy="entropy", budget=25, rounds=1, seed_size=20).run_name
    assert sum(r["calls"] for r in b) == 25 and bought(second) == (25, 50)  # its own 25 calls
    assert a[-1]["label_counts"] == {"positive": 25, "negative": 0}
    assert b[-1]["label_counts"] == {"positive": 0, "negative": 25}
    assert len(second.store.rounds()) == 4  # both runs' rounds are stored, side by side

    # the first annotator's loop again: the same parameters resume, nothing is bought
    again = ActiveLearningLoop(make_project(tmp_path, label="positive"), strategy="entropy", budget=25, rounds=1,
                               seed_size=20).run()
    assert again == a and int(second.store.spent()["calls"]) == 50


def test_another_template_is_another_run(tmp_path):
    plain = make_project(tmp_path)
    ActiveLearningLoop(plain, strategy="entropy", budget=20, rounds=1, seed_size=20).run()
    edited = make_project(tmp_path, instructions="Is the review positive or negative?")
    assert edited.task.template_hash != plain.task.template_hash
    results = ActiveLearningLoop(edited, strategy="entropy", budget=20, rounds=1, seed_size=20).run()
    assert results[0]["calls"] == 20 and int(edited.store.spent()["calls"]) == 40


def test_the_run_name_changes_with_what_the_loop_buys_or_trains(tmp_path):
    p = make_project(tmp_path)
    base = dict(strategy="entropy", budget=40, rounds=2, seed=0, seed_size=20)
    name = ActiveLearningLoop(p, **base).run_name
    assert name.startswith("entropy/b40/s0/logreg/")  # readable prefix, then the parameters' hash
    for change in [dict(rounds=3), dict(seed_size=10), dict(seed_from_gold=True), dict(class_balance=True),
                   dict(model="finetuned"), dict(test_split="holdout"), dict(strategy="margin"), dict(budget=41),
                   dict(seed=1)]:
        assert ActiveLearningLoop(p, **{**base, **change}).run_name != name, change
    # the stopping rule only ends a run early; it never changes what is bought: same run
    assert ActiveLearningLoop(p, **base, stable_rounds=2, stable_change=0.1).run_name == name
    # runs that differ only in seed differ only in the s<seed> part (the report averages over it)
    assert ActiveLearningLoop(p, **{**base, "seed": 3}).run_name == name.replace("/s0/", "/s3/")


def test_a_multilabel_loop_refuses_a_single_label_strategy_before_buying(tmp_path):
    (tmp_path / "data.csv").write_text("id,text,label\n1,good food,food\n2,cheap,price\n")
    (tmp_path / "labelwise.yaml").write_text(
        "task:\n  kind: multilabel\n  labels: {food: food, price: price}\n"
        "data:\n  path: data.csv\n  id_field: id\n  label_field: label\nannotator:\n  backend: fake\n")
    p = Project.open(tmp_path)
    with pytest.raises(ConfigError, match="mean_token_entropy"):
        ActiveLearningLoop(p, strategy="entropy", budget=2, rounds=1)
    assert ActiveLearningLoop(p, strategy="uncertainty", budget=2, rounds=1).strategy == "mean_token_entropy"
    assert not (tmp_path / "labelwise.db").exists() or p.store.spent()["calls"] == 0
