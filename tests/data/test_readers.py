import json

import pytest

from labelwise.data import read_records
from labelwise.errors import InputError
from tests.conftest import write

LABELS = ("positive", "negative")


def norm(v):
    v = str(v)
    if v not in LABELS:
        raise ValueError(f"label '{v}' is not in the schema")
    return v


def read(path, **kw):
    return read_records(path, input_fields=("text",), label_field="label", normalize_gold=norm, **kw)


def test_csv_reads_records_with_row_ids(tmp_path):
    p = write(tmp_path / "d.csv", 'text,label\n"Good, very good",positive\nBad,negative\n')
    recs = read(p)
    assert [(r.id, r.fields["text"], r.gold) for r in recs] == [("0", "Good, very good", "positive"),
                                                                 ("1", "Bad", "negative")]


def test_missing_file(tmp_path):
    with pytest.raises(InputError, match="nope.csv: file not found"):
        read(tmp_path / "nope.csv")


def test_missing_column_names_line_and_field(tmp_path):
    p = write(tmp_path / "d.csv", "body,label\nhello,positive\n")
    with pytest.raises(InputError, match=r"d.csv:2 \(field 'text'\): missing column; the row has: body, label"):
        read(p)


def test_empty_text_names_line(tmp_path):
    p = write(tmp_path / "d.csv", "text,label\nok,positive\n   ,negative\n")
    with pytest.raises(InputError, match=r"d.csv:3 \(field 'text'\): empty text"):
        read(p)


def test_label_outside_schema(tmp_path):
    p = write(tmp_path / "d.jsonl", json.dumps({"text": "a", "label": "positive"}) + "\n"
              + json.dumps({"text": "b", "label": "neutral"}) + "\n")
    with pytest.raises(InputError, match=r"d.jsonl:2 \(field 'label'\): label 'neutral' is not in the schema"):
        read(p)


def test_broken_jsonl_line(tmp_path):
    p = write(tmp_path / "d.jsonl", '{"text": "a", "label": "positive"}\n\n{"text": "b", "label": \n')
    with pytest.raises(InputError, match=r"d.jsonl:3: broken JSON"):
        read(p)


def test_undecodable_bytes_name_line(tmp_path):
    p = write(tmp_path / "d.csv", b"text,label\nfine,positive\ncaf\xe9 latte,positive\n")
    with pytest.raises(InputError, match=r"d.csv:3: bytes that are not UTF-8"):
        read(p)


def test_duplicate_id(tmp_path):
    p = write(tmp_path / "d.csv", "id,text,label\na,x,positive\na,y,negative\n")
    with pytest.raises(InputError, match=r"d.csv:3 \(field 'id'\): duplicate id 'a'"):
        read(p, id_field="id")


def test_extra_cells_are_an_error(tmp_path):
    p = write(tmp_path / "d.csv", "text,label\nhello, world,positive\n")
    with pytest.raises(InputError, match=r"d.csv:2: row has 3 cells but the header has 2"):
        read(p)


def test_parquet_round_trip(tmp_path):
    pa = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq
    pq.write_table(pa.Table.from_pylist([{"text": "a", "label": "positive"}, {"text": "b", "label": None}]),
                   tmp_path / "d.parquet")
    recs = read(tmp_path / "d.parquet")
    assert [r.gold for r in recs] == ["positive", None]


def test_limit_and_domain(tmp_path):
    p = write(tmp_path / "d.csv", "text,label,dom\na,positive,x\nb,negative,y\nc,positive,z\n")
    recs = read(p, domain_field="dom", limit=2)
    assert [r.domain for r in recs] == ["x", "y"]
