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


# ---- bad files, YAML errors at their cause, paths next to the config (issue 15) ---------------
QUOTED = """\
task:
  kind: classification
  labels: {positive: likes, negative: dislikes}
  text_field: text
  instructions: "Is the review positive?
data:
  path: data.csv
annotator:
  backend: fake
  model: m
  concurrency: 4
loop:
  budget: 10
  rounds: 2
few_shot:
  mode: none
"""


def test_config_that_is_not_utf8_names_file_and_line(tmp_path):
    p = write(tmp_path / "labelwise.yaml", GOOD.replace("likes,", "caf\xe9,").encode("latin-1"))
    with pytest.raises(ConfigError, match=r"labelwise.yaml:3: bytes that are not UTF-8 at byte \d+ "
                                          r".*re-save the config as UTF-8"):
        load_config(p)


def test_unclosed_quote_is_reported_where_it_opened(tmp_path):
    """YAML gets stuck at the end of the file (line 17); the mistake is on line 5."""
    p = write(tmp_path / "labelwise.yaml", QUOTED)
    with pytest.raises(ConfigError, match=r"labelwise.yaml:5: not valid YAML: a quoted value that starts on "
                                          r"this line is never closed \(YAML: found unexpected end of stream "
                                          r"at line 17\)"):
        load_config(p)


def test_unclosed_quote_closed_by_a_later_quote_is_reported_where_it_opened(tmp_path):
    p = write(tmp_path / "labelwise.yaml", QUOTED.replace("  mode: none", '  mode: "none"'))
    with pytest.raises(ConfigError, match=r"labelwise.yaml:5: not valid YAML: the quoted value that starts on "
                                          r"this line runs on to line 16.*an unclosed quote\?"):
        load_config(p)


def test_other_yaml_errors_keep_their_own_line(tmp_path):
    p = write(tmp_path / "labelwise.yaml", GOOD.replace("  backend: fake", "  backend: fake\n   bad: indent"))
    with pytest.raises(ConfigError, match=r"labelwise.yaml:8: not valid YAML: mapping values are not allowed"):
        load_config(p)


def test_legit_multi_line_quoted_value_is_fine(tmp_path):
    p = write(tmp_path / "labelwise.yaml", QUOTED.replace('positive?\n', 'positive?\n    Answer in one word."\n'))
    assert load_config(p).task.instructions == "Is the review positive? Answer in one word."


def test_config_path_that_is_a_directory(tmp_path):
    (tmp_path / "labelwise.yaml").mkdir()
    with pytest.raises(ConfigError, match=r"labelwise.yaml: is a directory; name the config file"):
        load_config(tmp_path)


def test_root_is_not_a_config_key(tmp_path):
    p = write(tmp_path / "labelwise.yaml", GOOD + "root: /elsewhere\n")
    with pytest.raises(ConfigError, match=r"labelwise.yaml:9 \(field 'root'\): unknown key"):
        load_config(p)


def test_template_next_to_the_config_is_found_from_another_cwd(tmp_path, monkeypatch):
    proj = tmp_path / "proj"
    write(proj / "prompts" / "mine.j2", "{% macro system(i, l) %}MINE{% endmacro %}"
                                        "{% macro user(t) %}{{ t }}{% endmacro %}")
    cfg_path = write(proj / "labelwise.yaml", GOOD.replace("  kind: classification",
                                                           "  kind: classification\n  template: prompts/mine.j2"))
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    cfg = load_config(cfg_path)
    assert cfg.task.template == str(proj.resolve() / "prompts" / "mine.j2")
    from labelwise.tasks.template import load_template_source
    assert "MINE" in load_template_source(cfg.task.template)
    assert cfg.resolve(cfg.data.path) == proj.resolve() / "data.csv"  # as every other path


def test_packaged_template_name_stays_a_name(tmp_path):
    p = write(tmp_path / "labelwise.yaml", GOOD.replace("  kind: classification",
                                                        "  kind: classification\n  template: classify.v1.j2"))
    assert load_config(p).task.template == "classify.v1.j2"


def test_missing_template_names_file_line_and_field(tmp_path):
    p = write(tmp_path / "labelwise.yaml", GOOD.replace("  kind: classification",
                                                        "  kind: classification\n  template: nope.j2"))
    with pytest.raises(ConfigError, match=r"labelwise.yaml:3 \(field 'task.template'\): no template file "
                                          r".*nope.j2 \(and no packaged template of that name\)"):
        load_config(p)


def test_unclosed_bracket_is_reported_where_it_opened(tmp_path):
    p = write(tmp_path / "labelwise.yaml", GOOD.replace("{positive: likes, negative: dislikes}",
                                                        "[positive, negative"))
    with pytest.raises(ConfigError, match=r"labelwise.yaml:3: not valid YAML: a \[\.\.\.\] list that starts on "
                                          r"this line is not closed where expected \(YAML: .* at line 4\)"):
        load_config(p)


def test_store_url_must_be_postgres_and_expands_variables(tmp_path, monkeypatch):
    p = write(tmp_path / "labelwise.yaml", GOOD + "store:\n  url: sqlite:///x.db\n")
    with pytest.raises(ConfigError, match=r"labelwise.yaml:\d+ \(field 'store.url'\).*postgresql:// URL.*store.path"):
        load_config(p)
    monkeypatch.setenv("LW_PG_PASSWORD", "s3cret")
    p = write(tmp_path / "labelwise.yaml", GOOD + "store:\n  url: postgresql://lw:${LW_PG_PASSWORD}@db/proj\n")
    assert load_config(p).store.url == "postgresql://lw:s3cret@db/proj"
