import json
from pathlib import Path

import pytest

from labelwise.data.readers import content_id

from labelwise.config import DataConfig
from labelwise.data import export_annotations, read_records
from labelwise.data.conll import conll_rows
from labelwise.data.readers import read_rows
from labelwise.data.writers import write_conll
from labelwise.errors import InputError
from labelwise.tasks.bio import check_tags
from labelwise.types import Annotation, Record
from tests.conftest import write

TYPES = ("PER", "LOC", "ORG")

# Two documents, repeated words, punctuation, Bambara and isiZulu tokens, runs of blank lines.
TWO_COLUMNS = (
    "-DOCSTART-\tO\n"
    "\n"
    "Amadou\tB-PER\n"
    "Traoré\tI-PER\n"
    "taa\tO\n"
    "Bamakɔ\tB-LOC\n"
    ".\tO\n"
    "\n"
    "\n"
    "Bamakɔ\tB-LOC\n"
    ",\tO\n"
    "Bamakɔ\tB-LOC\n"
    "!\tO\n"
    "\n"
    "-DOCSTART-\tO\n"
    "\n"
    "uNomvula\tB-PER\n"
    "uhlala\tO\n"
    "eThekwini\tB-LOC\n"
    "KwaZulu-Natal\tI-LOC\n"
)
SENTENCES = [
    (3, ["Amadou", "Traoré", "taa", "Bamakɔ", "."], ["B-PER", "I-PER", "O", "B-LOC", "O"]),
    (10, ["Bamakɔ", ",", "Bamakɔ", "!"], ["B-LOC", "O", "B-LOC", "O"]),
    (17, ["uNomvula", "uhlala", "eThekwini", "KwaZulu-Natal"], ["B-PER", "O", "B-LOC", "I-LOC"]),
]


def expected_rows():
    return [(line, {"tokens": toks, "ner_tags": tags}) for line, toks, tags in SENTENCES]


def norm(raw):
    return check_tags(raw, TYPES)


def read_ner(path: Path, **kw):
    return read_records(path, input_fields=("tokens",), label_field="ner_tags", normalize_gold=norm, **kw)


# ---- conll_rows ----------------------------------------------------------------------------

def test_two_column_file_gives_sentences_with_their_first_line(tmp_path):
    p = write(tmp_path / "d.conll", TWO_COLUMNS)
    assert list(conll_rows(p)) == expected_rows()


def test_conll2003_four_columns_take_the_last_as_the_tag(tmp_path):
    p = write(tmp_path / "d.conll", "-DOCSTART- -X- -X- O\n\n"
                                    "EU NNP B-NP B-ORG\nrejects VBZ B-VP O\nGerman JJ B-NP B-MISC\n"
                                    "call NN I-NP O\n. . O O\n\nPeter NNP B-NP B-PER\nBlackburn NNP I-NP I-PER\n")
    assert list(conll_rows(p)) == [
        (3, {"tokens": ["EU", "rejects", "German", "call", "."], "ner_tags": ["B-ORG", "O", "B-MISC", "O", "O"]}),
        (9, {"tokens": ["Peter", "Blackburn"], "ner_tags": ["B-PER", "I-PER"]}),
    ]


def test_spaces_tabs_and_runs_of_them_separate_columns(tmp_path):
    p = write(tmp_path / "d.iob", "Awa \t B-PER\n  Awa   I-PER  \n\t.\tO\n")
    assert list(conll_rows(p)) == [(1, {"tokens": ["Awa", "Awa", "."], "ner_tags": ["B-PER", "I-PER", "O"]})]


def test_one_column_file_gives_tokens_only(tmp_path):
    p = write(tmp_path / "d.conll", "Bamakɔ\nka\nbon\n\n-DOCSTART-\nDakar\n")
    assert list(conll_rows(p)) == [(1, {"tokens": ["Bamakɔ", "ka", "bon"]}), (6, {"tokens": ["Dakar"]})]


def test_crlf_bom_and_no_final_newline(tmp_path):
    p = write(tmp_path / "d.conll", b"\xef\xbb\xbfAwa\tB-PER\r\n.\tO\r\n\r\n\r\nDakar\tB-LOC")
    assert list(conll_rows(p)) == [(1, {"tokens": ["Awa", "."], "ner_tags": ["B-PER", "O"]}),
                                   (5, {"tokens": ["Dakar"], "ner_tags": ["B-LOC"]})]


def test_no_break_space_and_line_separator_stay_inside_a_token(tmp_path):
    # only spaces/tabs split columns and only \n splits lines; str.splitlines would break at \u2028
    p = write(tmp_path / "d.conll", "Ségou\u00a0ville\tB-LOC\na\u2028b\tO\n")
    assert list(conll_rows(p)) == [(1, {"tokens": ["Ségou\u00a0ville", "a\u2028b"], "ner_tags": ["B-LOC", "O"]})]


def test_docstart_without_blank_line_still_ends_the_sentence(tmp_path):
    p = write(tmp_path / "d.conll", "Awa\tB-PER\n-DOCSTART-\tO\nDakar\tB-LOC\n")
    assert [r["tokens"] for _, r in conll_rows(p)] == [["Awa"], ["Dakar"]]


def test_ragged_line_names_file_and_line(tmp_path):
    p = write(tmp_path / "d.conll", "Amadou\tB-PER\nTraoré\tI-PER\n\nBamakɔ\tB-LOC\nNew York\tB-LOC\n")
    with pytest.raises(InputError, match=r"d.conll:5: 3 columns but line 1 has 2; every token line needs") as e:
        list(conll_rows(p))
    assert (e.value.path, e.value.line) == (str(p), 5)


def test_missing_tag_is_a_ragged_line(tmp_path):
    p = write(tmp_path / "d.conll", "Amadou\tB-PER\nTraoré\n")
    with pytest.raises(InputError, match=r"d.conll:2: 1 columns but line 1 has 2"):
        list(conll_rows(p))


def test_undecodable_bytes_name_the_line(tmp_path):
    p = write(tmp_path / "d.conll", b"Awa\tB-PER\n\nDakar\tB-LOC\ncaf\xe9\tO\n")
    with pytest.raises(InputError, match=r"d.conll:4: bytes that are not UTF-8"):
        list(conll_rows(p))


# ---- through read_rows / read_records ------------------------------------------------------

@pytest.mark.parametrize("suffix", [".conll", ".iob", ".bio", ".CONLL"])
def test_suffixes_map_to_the_conll_reader(tmp_path, suffix):
    p = write(tmp_path / f"d{suffix}", TWO_COLUMNS)
    assert list(read_rows(p)) == expected_rows()


def test_txt_is_not_guessed_but_format_conll_reads_it(tmp_path):
    p = write(tmp_path / "d.txt", TWO_COLUMNS)
    with pytest.raises(InputError, match=r"unknown format 'txt'; use one of csv, jsonl, parquet, conll .*'conll'"):
        read_ner(p)
    for fmt in ("conll", "iob", "bio"):
        assert [r.gold for r in read_ner(p, fmt=fmt)] == [tuple(tags) for _, _, tags in SENTENCES]


def test_read_records_gives_token_lists_and_tag_tuples(tmp_path):
    recs = read_ner(write(tmp_path / "d.conll", TWO_COLUMNS))
    assert [(r.id, r.fields["tokens"], r.gold) for r in recs] == [
        (content_id({"tokens": toks}), toks, tuple(tags)) for _, toks, tags in SENTENCES]


def test_tag_outside_the_schema_names_the_sentence_line(tmp_path):
    p = write(tmp_path / "d.conll", TWO_COLUMNS.replace("uhlala\tO", "uhlala\tB-DATE"))
    with pytest.raises(InputError, match=r"d.conll:17 \(field 'ner_tags'\): tag 1 is 'B-DATE'"):
        read_ner(p)


def test_tokens_only_file_reads_without_gold_but_not_with_a_label_field(tmp_path):
    p = write(tmp_path / "d.conll", "Bamakɔ\nka\nbon\n")
    recs = read_records(p, input_fields=("tokens",))
    assert [(r.fields["tokens"], r.gold) for r in recs] == [(["Bamakɔ", "ka", "bon"], None)]
    with pytest.raises(InputError, match=r"d.conll:1 \(field 'ner_tags'\): missing column; the row has: tokens"):
        read_ner(p)


def test_empty_conll_file_has_no_rows(tmp_path):
    with pytest.raises(InputError, match=r"d.conll: no rows to read"):
        read_ner(write(tmp_path / "d.conll", "-DOCSTART-\tO\n\n\n"))


def test_config_accepts_the_conll_format():
    assert DataConfig(path="train.txt", format="conll").format == "conll"


# ---- list-valued input fields (JSONL token rows) -------------------------------------------

def jsonl(tmp_path, *rows):
    return write(tmp_path / "d.jsonl", "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))


def test_jsonl_token_rows_read_like_conll(tmp_path):
    p = jsonl(tmp_path, *({"id": f"s{i}", "tokens": toks, "ner_tags": tags} for i, (_, toks, tags) in
                          enumerate(SENTENCES)))
    from_jsonl = read_ner(p, id_field="id")
    from_conll = read_ner(write(tmp_path / "d.conll", TWO_COLUMNS))
    assert [(r.fields, r.gold) for r in from_jsonl] == [(r.fields, r.gold) for r in from_conll]
    assert [r.id for r in from_jsonl] == ["s0", "s1", "s2"]


@pytest.mark.parametrize("tokens, message", [
    ([], r"d.jsonl:2 \(field 'tokens'\): empty list; remove the row or fill it in"),
    (["Awa", ""], r"d.jsonl:2 \(field 'tokens'\): element 1 is ''; each element must be a non-empty string"),
    (["Awa", "  "], r"element 1 is '  '; each element must be a non-empty string"),
    (["Awa", 3], r"element 1 is 3; each element must be a non-empty string"),
    ([None], r"element 0 is None; each element must be a non-empty string"),
    ([["Awa"]], r"element 0 is \['Awa'\]; each element"),
])
def test_bad_token_lists_name_line_and_field(tmp_path, tokens, message):
    p = jsonl(tmp_path, {"tokens": ["Dakar"], "ner_tags": ["B-LOC"]}, {"tokens": tokens, "ner_tags": ["O"]})
    with pytest.raises(InputError, match=message):
        read_ner(p)


def test_text_fields_still_reject_blank_text(tmp_path):
    p = jsonl(tmp_path, {"text": "ok"}, {"text": " "})
    with pytest.raises(InputError, match=r"d.jsonl:2 \(field 'text'\): empty text"):
        read_records(p, input_fields=("text",))


# ---- writing -------------------------------------------------------------------------------

def test_write_conll_text_is_token_tab_tag(tmp_path):
    rows = [{"tokens": ["Awa", "Awa", "."], "label": ["B-PER", "B-PER", "O"]},
            {"tokens": ["Bamakɔ"], "label": ("B-LOC",)}]
    assert write_conll(tmp_path / "out" / "o.conll", rows) == 2
    assert (tmp_path / "out" / "o.conll").read_text(encoding="utf-8") == \
        "Awa\tB-PER\nAwa\tB-PER\n.\tO\n\nBamakɔ\tB-LOC\n"


def test_round_trip_read_write_read(tmp_path):
    first = [row for _, row in conll_rows(write(tmp_path / "a.conll", TWO_COLUMNS))]
    assert write_conll(tmp_path / "b.conll", first, tag_field="ner_tags") == 3
    second = [row for _, row in conll_rows(tmp_path / "b.conll")]
    assert second == first
    assert [r.gold for r in read_ner(tmp_path / "b.conll")] == [r.gold for r in read_ner(tmp_path / "a.conll")]


def test_unlabeled_rows_are_left_out_not_tagged_o(tmp_path):
    rows = [{"tokens": ["Awa"], "label": None}, {"tokens": ["Dakar"], "label": ["B-LOC"]}]
    assert write_conll(tmp_path / "o.conll", rows) == 1
    assert list(conll_rows(tmp_path / "o.conll")) == [(1, {"tokens": ["Dakar"], "ner_tags": ["B-LOC"]})]


@pytest.mark.parametrize("row, message", [
    ({"tokens": ["Awa", "Traoré"], "label": ["B-PER"]}, r"field 'label': row 0 has 2 tokens but its tags are"),
    ({"tokens": "Awa Traoré", "label": ["B-PER"]}, r"field 'tokens': row 0 needs a non-empty list of tokens"),
    ({"text": "Awa", "label": "positive"}, r"row 0 needs a non-empty list of tokens, got None"),
    ({"tokens": [], "label": []}, r"row 0 needs a non-empty list of tokens"),
    ({"tokens": ["New York"], "label": ["B-LOC"]}, r"row 0, token 0 is 'New York'; a CoNLL cell must be"),
    ({"tokens": ["a\tb"], "label": ["O"]}, r"row 0, token 0 is 'a\\tb'"),
    ({"tokens": ["a\nb"], "label": ["O"]}, r"row 0, token 0 is 'a\\nb'"),
    ({"tokens": ["\u00a0"], "label": ["O"]}, r"row 0, token 0 is '\\xa0'"),
    ({"tokens": ["-DOCSTART-"], "label": ["O"]}, r"row 0, token 0 is '-DOCSTART-'"),
    ({"tokens": ["Awa"], "label": [""]}, r"field 'label': row 0, tag 0 is ''"),
    ({"tokens": ["Awa"], "label": [None]}, r"row 0, tag 0 is None"),
])
def test_write_conll_refuses_what_would_not_read_back(tmp_path, row, message):
    with pytest.raises(InputError, match=message):
        write_conll(tmp_path / "o.conll", [row])


def test_export_annotations_as_conll(tmp_path):
    records = [Record(id=str(i), fields={"tokens": toks}, gold=tuple(tags)) for i, (_, toks, tags) in
               enumerate(SENTENCES)]
    anns = [Annotation(record_id="0", annotator_id="a", template_hash="h", label=("B-PER", "I-PER", "O", "O", "O"),
                       distribution=None, error=None, call_keys=(), prompt_tokens=1, completion_tokens=1,
                       cost=0.0, latency_s=0.0),
            Annotation(record_id="2", annotator_id="a", template_hash="h", label=None, distribution=None,
                       error="not JSON", call_keys=(), prompt_tokens=1, completion_tokens=1, cost=0.0, latency_s=0.0)]
    assert export_annotations(records, anns, tmp_path / "labels.conll", "conll") == 1
    assert list(conll_rows(tmp_path / "labels.conll")) == [
        (1, {"tokens": SENTENCES[0][1], "ner_tags": ["B-PER", "I-PER", "O", "O", "O"]})]


WNUT = Path(__file__).resolve().parents[3] / "shared" / "datasets" / "wnut17" / "train.jsonl"


@pytest.mark.skipif(not WNUT.exists(), reason="shared WNUT-17 copy not present")
def test_wnut17_sentences_round_trip_through_conll(tmp_path):
    head = write(tmp_path / "head.jsonl", "".join(WNUT.read_text(encoding="utf-8").splitlines(True)[:40]))
    types = ("person", "location", "corporation", "product", "creative-work", "group")
    kw = dict(input_fields=("tokens",), label_field="ner_tags", normalize_gold=lambda t: check_tags(t, types))
    recs = read_records(head, id_field="id", **kw)
    write_conll(tmp_path / "w.conll", [{"tokens": r.fields["tokens"], "label": r.gold} for r in recs])
    back = read_records(tmp_path / "w.conll", **kw)
    assert [(r.fields["tokens"], r.gold) for r in back] == [(r.fields["tokens"], r.gold) for r in recs]
    assert len(back) == 40
