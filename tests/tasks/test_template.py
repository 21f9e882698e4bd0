"""Macros called straight render exactly what Jinja's own macro call renders."""
import jinja2
import pytest

from labelwise.config import TaskConfig
from labelwise.tasks import make_task
from labelwise.tasks.template import Template, direct_call, load_template_source
from labelwise.types import Record

SOURCE = """
{%- macro user(fields, text_field) -%}Text: {{ fields[text_field] }}
Label:{%- endmacro %}
{%- macro with_default(a, b="B") -%}{{ a }}-{{ b }}{%- endmacro %}
{%- macro with_caller(a) -%}{{ caller() }}{%- endmacro %}
{%- macro with_varargs(a) -%}{{ varargs }}{%- endmacro %}
{%- macro with_kwargs(a) -%}{{ kwargs }}{%- endmacro %}
"""


def test_direct_call_renders_what_the_macro_renders():
    t = Template(SOURCE)
    fast = t.macro("user", 2)
    assert fast is not t.macros.user  # the compiled body, without argument matching
    for text in ["plain", "é 中 ☕ <b>&amp;</b> {{ x }}", "", "line\nbreak", 42, None]:
        assert fast({"text": text}, "text") == t.macros.user({"text": text}, "text")
    with pytest.raises(jinja2.UndefinedError):  # StrictUndefined still raises
        fast({}, "text")


def test_direct_call_falls_back_to_the_macro_where_it_would_differ():
    t = Template(SOURCE)
    assert t.macro("with_default", 1) is t.macros.with_default  # a default fills the missing argument
    assert t.macro("with_default", 1)("x") == "x-B"
    assert t.macro("with_default", 2) is not t.macros.with_default
    for name in ("with_caller", "with_varargs", "with_kwargs"):
        assert t.macro(name, 1) is getattr(t.macros, name)
    autoescaped = jinja2.Environment(autoescape=True).from_string(SOURCE).module
    assert direct_call(autoescaped.user, 2) is autoescaped.user


@pytest.mark.parametrize("name", ["classify.v1.j2", "pair.v1.j2", "multilabel.v1.j2"])
def test_packaged_templates_are_called_straight(name):
    t = Template(load_template_source(name))
    nargs = {"classify.v1.j2": 2, "pair.v1.j2": 3, "multilabel.v1.j2": 4}[name]
    args = [{"text": "a <text>", "b": "other"}, "text", "b", "desc"][:nargs]
    assert t.macro("user", nargs) is not t.macros.user
    assert t.macro("user", nargs)(*args) == t.macros.user(*args)


def test_few_shot_examples_render_once_and_the_same():
    cfg = TaskConfig(kind="classification", instructions="Sentiment?", labels={"positive": "", "negative": ""})
    task = make_task(cfg)
    ex = [Record("e1", {"text": "Loved it"}, gold="positive"), Record("e2", {"text": "Hated it"}, gold="negative")]
    a = task.queries(Record("1", {"text": "x"}), ex)[0]
    b = task.queries(Record("2", {"text": "y"}), ex)[0]
    assert a.messages[1] is b.messages[1] and a.messages[2] is b.messages[2]  # rendered once, reused
    copies = [Record("e1", {"text": "Loved it!"}, gold="positive"), ex[1]]  # another record object
    c = task.queries(Record("3", {"text": "z"}), copies)[0]
    assert c.messages[1].content == "Text: Loved it!\nLabel:" and c.messages[2].content == "positive"
    fresh = make_task(cfg)  # nothing memoised: the same messages
    assert fresh.queries(Record("1", {"text": "x"}), ex)[0] == a
