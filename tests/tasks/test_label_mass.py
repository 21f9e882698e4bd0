"""Label mass: the share of the model's probability that went to the labels at all.

A softmax over the labels looks sure even when the model put 99.8% of its belief on another
answer; the mass shows it. Unit tests with crafted responses, then a real project over an
OpenAI-compatible fault server on 127.0.0.1: `labelwise annotate`, then `labelwise eval`.
"""
from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Iterator

import pytest
from typer.testing import CliRunner

from labelwise.cli.app import app
from labelwise.evaluate import LOW_LABEL_MASS, annotation_label_mass, evaluate, label_mass_stats
from labelwise.project import Project
from labelwise.tasks.base import distribution_of, label_mass
from labelwise.types import Response
from tests.servers import FaultServer, Reply, Seen, scored

LABELS = ("positive", "negative")


# -- the pure function ----------------------------------------------------------------------------------
def test_label_mass_is_the_labels_share_of_the_model_probability():
    low = Response(choice_logprobs={"positive": math.log(0.0015), "negative": math.log(0.0005)})
    assert label_mass(low) == pytest.approx(0.002)
    # the label distribution looks sure all the same: that is why the mass is reported
    assert distribution_of(low, LABELS) == {"positive": pytest.approx(0.75), "negative": pytest.approx(0.25)}
    high = Response(choice_logprobs={"positive": math.log(0.9), "negative": math.log(0.08)})
    assert label_mass(high) == pytest.approx(0.98)


def test_floored_choices_count_zero_because_the_floor_is_only_an_upper_bound():
    lp = {"positive": math.log(0.3), "negative": math.log(0.01)}
    assert label_mass(Response(choice_logprobs=lp, raw={"floored_choices": ["negative"]})) == pytest.approx(0.3)
    assert label_mass(Response(choice_logprobs=lp, raw={"floored_choices": []})) == pytest.approx(0.31)


@pytest.mark.parametrize("resp, expected", [
    (Response(samples=("positive", "negative", "positive")), None),  # votes: no probabilities to add up
    (Response(text="positive"), None),
    (Response(choice_logprobs={"positive": math.nan, "negative": -1.0}), None),  # a ParseError item
    (Response(choice_logprobs={"positive": None, "negative": -1.0}), None),  # NaN after the database
    (Response(choice_logprobs={"positive": math.inf, "negative": -1.0}), None),
    (Response(choice_logprobs={}), 0.0),  # no label among the top tokens
    (Response(choice_logprobs={"positive": -math.inf, "negative": math.log(0.4)}), pytest.approx(0.4)),
    (Response(choice_logprobs={"positive": 1e-9, "negative": 1e-9}), 1.0),  # rounding past 1 is clipped
])
def test_label_mass_edge_cases(resp, expected):
    assert label_mass(resp) == expected


def test_an_annotation_takes_its_weakest_question():
    """Multilabel asks one yes/no question per label: one the model would not answer in yes/no
    terms is enough to doubt the item."""
    calls = [{"response": {"choice_logprobs": {"yes": math.log(0.7), "no": math.log(0.25)}}, "raw": None},
             {"response": {"choice_logprobs": {"yes": math.log(0.1), "no": math.log(0.2)}},
              "raw": {"floored_choices": ["yes"]}},
             {"response": None, "raw": None}]  # a call whose cache row is gone
    assert annotation_label_mass(calls) == pytest.approx(0.2)
    assert annotation_label_mass([{"response": {"choice_logprobs": None, "samples": ["yes"]}, "raw": None}]) is None


def test_label_mass_stats():
    assert label_mass_stats([]) is None
    s = label_mass_stats([0.99, 0.9, 0.002, 0.49, 0.5])
    assert s == {"n": 5, "mean": pytest.approx(2.882 / 5), "below": 2, "below_share": 0.4, "threshold": LOW_LABEL_MASS}
    assert LOW_LABEL_MASS == 0.5


# -- a real project: annotate over the fault server, then eval ----------------------------------------------
TEXTS = ["lovely soup", "kind staff", "cold food", "rude waiter", "great pizza", "smoky room", "fine view",
         "odd one", "odd two", "lost one"]
NORMAL = [(" negative", -0.05), (" positive", -3.2), ("The", -5.0)]  # mass 0.95 + 0.041
ELSEWHERE = [("I", -0.01), (" positive", -6.2), (" negative", -7.0)]  # the model wanted to say "I ..."
NO_LABEL = [("Sorry", -0.2), ("I", -1.8)]


def answer_by_text(seen: Seen) -> Reply:
    user = seen.body["messages"][-1]["content"]
    top = ELSEWHERE if "odd" in user else NO_LABEL if "lost" in user else NORMAL
    return scored(top)


@pytest.fixture
def fault() -> Iterator[FaultServer]:
    with FaultServer(default=answer_by_text) as server:
        yield server


def make_project(root: Path, url: str) -> Path:
    root.mkdir()
    rows = ["id,text,label"] + [f"r{i},{t},{'positive' if i % 2 else 'negative'}" for i, t in enumerate(TEXTS)]
    (root / "data.csv").write_text("\n".join(rows) + "\n")
    (root / "labelwise.yaml").write_text(f"""\
task:
  kind: classification
  instructions: Is the review positive or negative?
  labels:
    positive: likes it
    negative: dislikes it
data:
  path: data.csv
  id_field: id
  label_field: label
annotator:
  backend: openai
  base_url: {url}
  model: fault-model
  max_retries: 0
  concurrency: 2
""")
    return root


def test_eval_reports_the_items_whose_labels_got_little_of_the_model_probability(fault, tmp_path):
    root = make_project(tmp_path / "proj", fault.url)
    runner = CliRunner()
    r = runner.invoke(app, ["annotate", "-p", str(root)])
    assert r.exit_code == 0, r.output
    assert len(fault.chat_requests) == len(TEXTS)  # scored once each, nothing voted

    m = evaluate(Project.open(root))
    assert m["annotated"] == 10 and m["errors"] == 1  # the item with no label among the top tokens
    lm = m["label_mass"]
    normal, elsewhere = math.exp(-0.05) + math.exp(-3.2), math.exp(-6.2) + math.exp(-7.0)
    assert lm["n"] == 10 and lm["below"] == 3 and lm["below_share"] == pytest.approx(0.3)
    assert lm["mean"] == pytest.approx((7 * normal + 2 * elsewhere + 0.0) / 10)
    # the distribution stays {label: p}: the mass is reported, never stored in it
    anns = Project.open(root).store.annotations()
    assert all(set(a.distribution) == set(LABELS) for a in anns if a.error is None)

    out = tmp_path / "m.json"
    r = runner.invoke(app, ["eval", "-p", str(root), "--json", str(out)])
    assert r.exit_code == 0, r.output
    assert ("label mass: 3 of 10 items (30.0%) gave the labels less than 50% of the model's probability: "
            "the model wanted to say something else; check the prompt") in r.output
    assert json.loads(out.read_text())["label_mass"]["below"] == 3


def test_eval_says_the_mass_is_fine_when_no_item_is_below(tmp_path):
    with FaultServer(default=scored(NORMAL)) as server:
        root = make_project(tmp_path / "proj", server.url)
        runner = CliRunner()
        assert runner.invoke(app, ["annotate", "-p", str(root)]).exit_code == 0
        r = runner.invoke(app, ["eval", "-p", str(root)])
    assert r.exit_code == 0, r.output
    assert "label mass: the labels got 99.2% of the model's probability on average (10 items, none below 50%)" \
        in r.output
