from labelwise.project import Project
from tests.conftest import write


def test_label_map_applies_to_data_and_few_shot_examples(tmp_path):
    write(tmp_path / "d.csv", "text,label\ngood,1\nbad,0\n")
    write(tmp_path / "ex.csv", "text,label\nfine,1\nawful,0\n")
    write(tmp_path / "labelwise.yaml",
          "task:\n  labels: {positive: likes, negative: dislikes}\n"
          "data:\n  path: d.csv\n  label_field: label\n  label_map: {0: negative, 1: positive}\n"
          "few_shot:\n  mode: fixed\n  k: 2\n  path: ex.csv\n"
          "annotator:\n  backend: fake\n")
    p = Project.open(tmp_path)
    assert [r.gold for r in p.read_data()] == ["positive", "negative"]
    assert sorted(r.gold for r in p.few_shot().fixed()) == ["negative", "positive"]


def test_a_variant_shares_the_store_and_task_but_not_the_annotator_and_refuses_another_task(tmp_path):
    import pytest
    write(tmp_path / "d.csv", "text\nhello\n")
    write(tmp_path / "labelwise.yaml", "task:\n  kind: classification\n  labels: {a: one, b: two}\ndata: {path: d.csv}\n"
                                       "annotator: {backend: fake, model: 'constant:a'}\n")
    p = Project.open(tmp_path)
    cfg = p.config.model_copy(update={"annotator": p.config.annotator.model_copy(update={"model": "constant:b"})})
    v = p.variant(cfg)
    assert v.store is p.store and v.task is p.task and v.annotator.id == "fake/constant:b" != p.annotator.id
    other = p.config.model_copy(update={"task": p.config.task.model_copy(update={"instructions": "else"})})
    with pytest.raises(ValueError, match="shares the task"):
        p.variant(other)
