import pytest

from labelwise.config import load_config
from labelwise.errors import ConfigError
from tests.conftest import write

GOOD = """\
task:
  kind: classification
  labels: {positive: likes, negative: dislikes}
data:
  path: data.csv
annotator:
  backend: fake
budget:
"""


def test_minimal_config_loads_with_defaults(tmp_path):
    cfg = load_config(write(tmp_path / "labelwise.yaml", GOOD))
    assert cfg.annotator.backend == "fake"
    assert cfg.budget.money is None
    assert cfg.resolve("data.csv") == tmp_path.resolve() / "data.csv"


def test_unknown_key_names_file_line_and_field(tmp_path):
    p = write(tmp_path / "labelwise.yaml", GOOD.replace("  backend: fake", "  backend: fake\n  concurency: 4"))
    with pytest.raises(ConfigError) as e:
        load_config(p)
    msg = str(e.value)
    assert f"{p}:8" in msg and "annotator.concurency" in msg and "unknown key" in msg


def test_bad_value_names_field(tmp_path):
    p = write(tmp_path / "labelwise.yaml", GOOD.replace("  backend: fake", "  backend: fake\n  concurrency: 0"))
    with pytest.raises(ConfigError, match=r"labelwise.yaml:8 \(field 'annotator.concurrency'\)"):
        load_config(p)


def test_yaml_syntax_error_has_line(tmp_path):
    p = write(tmp_path / "labelwise.yaml", GOOD + "data: [unclosed\n")
    with pytest.raises(ConfigError, match=r"labelwise.yaml:\d+.*not valid YAML"):
        load_config(p)


def test_missing_config_says_how_to_fix(tmp_path):
    with pytest.raises(ConfigError, match="labelwise init"):
        load_config(tmp_path)


def test_pair_task_needs_second_field(tmp_path):
    p = write(tmp_path / "labelwise.yaml", GOOD.replace("kind: classification", "kind: pair"))
    with pytest.raises(ConfigError, match="text_pair_field"):
        load_config(p)


def test_single_label_schema_rejected(tmp_path):
    p = write(tmp_path / "labelwise.yaml", GOOD.replace("{positive: likes, negative: dislikes}", "{positive: likes}"))
    with pytest.raises(ConfigError, match="task.labels"):
        load_config(p)
