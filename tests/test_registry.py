import pytest

from labelwise.annotators.base import make_annotator
from labelwise.config import AnnotatorConfig, TaskConfig
from labelwise.errors import ConfigError
from labelwise.registry import Registry
from labelwise.tasks import make_task


def test_registry_rejects_a_second_factory_under_one_name():
    reg = Registry("widget")
    make = reg.register("a")(lambda: 1)
    assert reg.register("a")(make) is make  # registering the same factory again is harmless
    with pytest.raises(ValueError, match="widget name 'a' is already registered"):
        reg.register("a")(lambda: 2)


def test_unknown_names_list_the_known_ones_and_name_the_config_field(tmp_path):
    from pydantic import ValidationError

    from labelwise.config import load_config
    known = r"unknown task kind 'ranking'; choose one of classification, multilabel, ner, pair, relevance"
    with pytest.raises(ValidationError, match=known):  # refused when the config is read, before any task is built
        TaskConfig(kind="ranking", labels={"a": "", "b": ""})
    (tmp_path / "labelwise.yaml").write_text("task:\n  kind: ranking\n  labels: {a: x, b: y}\ndata: {path: d.csv}\n")
    with pytest.raises(ConfigError, match=r"labelwise.yaml:2 \(field 'task.kind'\).*" + known):
        load_config(tmp_path)
    with pytest.raises(ConfigError, match=r"field 'task.kind'.*" + known):
        make_task(TaskConfig.model_construct(kind="ranking", labels={"a": "", "b": ""}))
    with pytest.raises(ConfigError, match=r"unknown annotator backend 'vllm'; choose one of fake, llamacpp, openai"):
        make_annotator(AnnotatorConfig(backend="vllm"))
