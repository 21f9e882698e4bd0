"""Gold items chosen by certainty: the most certain first, a floor, a seeded random choice
without certainty; the column read with errors that name their place; the watch and `check`
ask only the chosen items."""
import math

import pytest
from typer.testing import CliRunner

from labelwise import Project
from labelwise.annotators.fake import FakeAnnotator
from labelwise.cli.app import app
from labelwise.errors import ConfigError, InputError
from labelwise.quality.gold_select import read_certainty, select_gold
from labelwise.types import Record
from tests.conftest import write


def recs(n):
    return [Record(f"g{i}", {"text": f"t{i}"}, gold="negative") for i in range(n)]


def test_most_certain_first_with_a_floor_and_file_order_kept():
    gold = recs(6)
    cert = {"g0": 0.5, "g1": 1.0, "g2": 0.9, "g3": 0.6, "g5": 1.0}  # g4: unknown
    assert [r.id for r in select_gold(gold, 3, cert)] == ["g1", "g2", "g5"]
    assert [r.id for r in select_gold(gold, None, cert, min_certainty=0.6)] == ["g1", "g2", "g3", "g5"]
    assert "g4" not in {r.id for r in select_gold(gold, None, cert)}  # unknown certainty: never gold
    two = {frozenset(r.id for r in select_gold(gold, 1, cert, seed=s)) for s in range(20)}
    assert two == {frozenset({"g1"}), frozenset({"g5"})}  # a tie at the top is broken by the seed


def test_without_certainty_a_seeded_random_choice():
    gold = recs(50)
    a, b = select_gold(gold, 10, seed=1), select_gold(gold, 10, seed=1)
    assert a == b and len(a) == 10 and select_gold(gold, 10, seed=2) != a
    assert select_gold(gold, None) == gold and select_gold(gold, 99) == gold


def test_read_certainty_names_file_line_and_field(tmp_path):
    f = tmp_path / "gold.csv"
    write(f, "id,text,label,agree\n1,a,negative,0.9\n2,b,negative,\n3,c,negative,lots\n")
    rs = [Record(i, {"text": t}) for i, t in (("1", "a"), ("2", "b"), ("3", "c"))]
    with pytest.raises(InputError) as e:
        read_certainty(f, rs, "agree")
    assert "gold.csv:4 (field 'agree')" in str(e.value) and "'lots'" in str(e.value)
    write(f, "id,text,label,agree\n1,a,negative,0.9\n2,b,negative,\n")
    assert read_certainty(f, rs[:2], "agree") == {"1": 0.9}  # an empty cell is unknown
    with pytest.raises(InputError):
        read_certainty(f, rs[:2], "votes")
    assert read_certainty(f, rs[:2], "votes", required=False) == {}


def project(tmp, extra_gold=""):
    write(tmp / "data.csv", "id,text\n" + "".join(f"d{i},review number {i} of the shop\n" for i in range(40)))
    # 20 gold items; agreement 1.0 for the even ones, 0.6 for the odd ones
    write(tmp / "gold.csv", "id,text,label,agree\n" + "".join(
        f"{i},review number {1000 + i} of the shop,negative,{1.0 if i % 2 == 0 else 0.6}\n" for i in range(20)))
    write(tmp / "labelwise.yaml", f"""
task:
  kind: classification
  labels: {{positive: likes it, negative: dislikes it}}
data: {{path: data.csv, id_field: id}}
annotator: {{backend: fake, model: "sure", concurrency: 1}}
gold:
  path: gold.csv
  target: 0.5
  certainty_field: agree
{extra_gold}""")
    return Project.open(tmp)


def sure(asked):
    def answer(q):
        asked.append(q.messages[-1].content)
        return {"negative": math.log(0.9), "positive": math.log(0.1)}
    return FakeAnnotator(answer, model="sure")


def test_the_watch_asks_only_gold_items_over_the_floor(tmp_path):
    p = project(tmp_path, "  min_certainty: 0.9\n")
    asked = []
    p.__dict__["annotator"] = sure(asked)
    s = p.run()
    assert s.gold["n"] == 10 and s.annotated == 50  # 40 data rows + the 10 gold items with agreement 1.0
    gold_asked = sorted(int(t.split("review number ")[1].split()[0]) - 1000 for t in asked if "number 10" in t and "number 10 of" not in t)
    assert gold_asked == list(range(0, 20, 2))


def test_gold_sample_takes_the_most_certain(tmp_path):
    p = project(tmp_path, "  sample: 4\n")
    p.__dict__["annotator"] = sure([])
    s = p.run()
    assert s.gold["n"] == 4
    ids = {a.record_id for a in p.store.annotations() if a.record_id.startswith("gold:")}
    assert len(ids) == 4 and all(int(i.split(":")[1]) % 2 == 0 for i in ids)


def test_a_floor_without_a_field_and_a_field_nobody_has_are_errors(tmp_path):
    write(tmp_path / "gold.csv", "id,text,label\n1,a,negative\n")
    with pytest.raises(ConfigError, match="needs gold.certainty_field"):
        project(tmp_path, "  min_certainty: 0.5\n  certainty_field: null\n")


def test_check_uses_the_most_certain_gold_items(tmp_path):
    project(tmp_path)
    r = CliRunner().invoke(app, ["check", "-p", str(tmp_path), "--n", "5", "--models", "fake:constant:negative"])
    assert r.exit_code == 0, r.output
    assert "on 5 gold items" in r.output
    p = Project.open(tmp_path)
    asked = {a.record_id for a in p.store.annotations()}
    assert len(asked) == 5 and all(int(i.split(":")[1]) % 2 == 0 for i in asked)
