import json

import pytest

from labelwise.data import read_records
from labelwise.data.readers import content_id
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


def test_csv_without_an_id_column_gets_ids_from_the_content_that_survive_inserted_rows(tmp_path):
    p = write(tmp_path / "d.csv", 'text,label\n"Good, very good",positive\nBad,negative\nBad,negative\n')
    recs = read(p)
    good, bad = content_id({"text": "Good, very good"}), content_id({"text": "Bad"})
    assert len(good) == 16 and good != bad
    assert [(r.id, r.fields["text"], r.gold) for r in recs] == [(good, "Good, very good", "positive"),
                                                                 (bad, "Bad", "negative"),
                                                                 (f"{bad}-2", "Bad", "negative")]
    write(p, 'text,label\nNew first row,positive\n"Good, very good",positive\nBad,negative\nBad,negative\n')
    assert [r.id for r in read(p)][1:] == [good, bad, f"{bad}-2"]


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


# ---- quoting, big cells, odd values (issue 15) ---------------------------------------------------
def ten_rows(row3: str) -> str:
    rows = [f"row {i},{LABELS[i % 2]}" for i in range(1, 11)]
    rows[2] = row3
    return "text,label\n" + "\n".join(rows) + "\n"


def test_unclosed_quote_is_an_error_at_the_row_that_opened_it(tmp_path):
    """Without strict parsing the quote swallowed rows 3-10 into one text: 3 records from 10 rows."""
    p = write(tmp_path / "d.csv", ten_rows('"row 3 never closed,positive'))
    with pytest.raises(InputError, match=r"d.csv:4: a quoted cell that starts in this row runs on to line 11 "
                                         r"\(csv: unexpected end of data\); an unclosed quote"):
        read(p)


def test_unclosed_quote_closed_by_a_later_quote_is_still_caught(tmp_path):
    text = ten_rows('"row 3 never closed,positive').replace("row 7,", '"row 7",')
    p = write(tmp_path / "d.csv", text)
    with pytest.raises(InputError, match=r"d.csv:4: a quoted cell that starts in this row runs on to line 8"):
        read(p)


def test_stray_text_after_a_closing_quote_is_an_error_on_its_line(tmp_path):
    p = write(tmp_path / "d.csv", 'text,label\nok,positive\n"quoted" then more,negative\n')
    with pytest.raises(InputError, match=r"d.csv:3: bad quoting"):
        read(p)


def test_multi_line_quoted_cells_read_and_later_lines_stay_right(tmp_path):
    p = write(tmp_path / "d.csv", 'text,label\n"first line\nsecond, with comma\nthird ""quoted""",positive\n'
                                  'plain,negative\n"two\nlines",positive\n   ,negative\n')
    with pytest.raises(InputError, match=r"d.csv:8 \(field 'text'\): empty text"):
        read(p)  # line 8: the line numbers count the lines inside the quoted cells above
    p.write_text(p.read_text().replace("   ,negative", "last,negative"))
    recs = read(p)
    assert [r.fields["text"] for r in recs] == ['first line\nsecond, with comma\nthird "quoted"', "plain",
                                                "two\nlines", "last"]
    assert [r.gold for r in recs] == ["positive", "negative", "positive", "negative"]


def test_a_200_kib_cell_reads(tmp_path):
    big = "word " * (200 * 1024 // 5)
    p = write(tmp_path / "d.csv", f'text,label\n"{big}",positive\nsmall,negative\n')
    recs = read(p)
    assert len(recs) == 2 and recs[0].fields["text"] == big and len(big) >= 200 * 1024


def test_too_few_cells_is_an_error_not_a_missing_label(tmp_path):
    p = write(tmp_path / "d.csv", "text,label\nfine,positive\nno label here\n")
    with pytest.raises(InputError, match=r"d.csv:3: row has 1 cells but the header has 2; write an empty cell"):
        read(p)


def test_duplicate_header_name_is_an_error(tmp_path):
    """Two columns of one name: a dict keeps only the last, the first would be silently lost."""
    p = write(tmp_path / "d.csv", "text,label,text\na,positive,b\n")
    with pytest.raises(InputError, match=r"d.csv:1 \(field 'text'\): this column name appears twice"):
        read(p)


def test_tsv_is_split_on_tabs(tmp_path):
    p = write(tmp_path / "d.tsv", "text\tlabel\nGood, very good\tpositive\n")
    assert [(r.fields["text"], r.gold) for r in read(p)] == [("Good, very good", "positive")]


def test_a_directory_is_not_a_data_file(tmp_path):
    (tmp_path / "data.csv").mkdir()
    with pytest.raises(InputError, match=r"data.csv: is a directory, name a file"):
        read(tmp_path / "data.csv")


def test_jsonl_object_as_text_is_refused(tmp_path):
    p = write(tmp_path / "d.jsonl", json.dumps({"text": "fine", "label": "positive"}) + "\n"
              + json.dumps({"text": {"title": "t", "body": "b"}, "label": "negative"}) + "\n")
    with pytest.raises(InputError, match=r"d.jsonl:2 \(field 'text'\): expected text, got a JSON object "
                                         r"\(\{\"title\": \"t\", \"body\": \"b\"\}\)"):
        read(p)


def test_jsonl_numbers_and_token_lists_are_kept(tmp_path):
    p = write(tmp_path / "d.jsonl", json.dumps({"text": 42, "label": "positive"}) + "\n"
              + json.dumps({"text": ["New", "York"], "label": "negative"}) + "\n")
    assert [r.fields["text"] for r in read(p)] == [42, ["New", "York"]]


def test_jsonl_line_separator_inside_a_string_is_not_a_line_break(tmp_path):
    """Our own export writes U+2028 raw (ensure_ascii=False); reading it back must not split there."""
    p = write(tmp_path / "d.jsonl", json.dumps({"text": "a\u2028b\x85c", "label": "positive"},
                                               ensure_ascii=False) + "\r\n")
    assert [r.fields["text"] for r in read(p)] == ["a\u2028b\x85c"]


def test_corrupt_parquet_is_an_input_error(tmp_path):
    pytest.importorskip("pyarrow")
    p = write(tmp_path / "d.parquet", b"PAR1 this is not really parquet")
    with pytest.raises(InputError, match=r"d.parquet: not a readable Parquet file"):
        read(p)
