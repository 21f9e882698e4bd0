"""Search relevance: ranking metrics against ir-measures (pytrec_eval), BEIR and TREC readers,
BM25 candidates, the pairs command, and the relevance task kind."""
import json
import random

import pytest
from typer.testing import CliRunner

from labelwise.cli.app import app
from labelwise.errors import ConfigError, InputError
from labelwise.search.beir import read_beir, read_qrels
from labelwise.search.bm25 import bm25_candidates
from labelwise.search.metrics import grade_agreement, ranking_metrics
from labelwise.tasks.relevance import expected_grade
from tests.conftest import write


def random_case(seed):
    rng = random.Random(seed)
    qrels, run = {}, {}
    for q in range(12):
        docs = [f"d{i}" for i in range(rng.randint(5, 150))]
        judged = rng.sample(docs, min(len(docs), rng.randint(1, 30)))
        qrels[f"q{q}"] = {d: rng.choice([0, 0, 1, 2, 3]) for d in judged}
        run[f"q{q}"] = {d: rng.random() for d in docs}  # no ties
    qrels["q0"] = {d: 0 for d in qrels["q0"]}  # a query with nothing relevant is left out, as ir_measures does
    return qrels, run


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_ranking_metrics_equal_ir_measures(seed):
    ir_measures = pytest.importorskip("ir_measures")
    from ir_measures import AP, RR, R, nDCG
    qrels, run = random_case(seed)
    ours = ranking_metrics(qrels, run)
    keep = {q: v for q, v in qrels.items() if any(g > 0 for g in v.values())}
    ref = ir_measures.calc_aggregate([nDCG @ 10, RR @ 10, R @ 100, AP], keep, run)
    assert ours["queries"] == len(keep) == 11
    assert ours["ndcg@10"] == pytest.approx(ref[nDCG @ 10], abs=1e-9)
    assert ours["mrr@10"] == pytest.approx(ref[RR @ 10], abs=1e-9)
    assert ours["recall@100"] == pytest.approx(ref[R @ 100], abs=1e-9)
    assert ours["map"] == pytest.approx(ref[AP], abs=1e-9)


def test_grade_agreement_and_expected_grade():
    g = grade_agreement(["3", "2", "0", "1"], ["3", "1", "0", "3"], ("3", "2", "1", "0"))
    assert g["n"] == 4 and g["accuracy"] == 0.5 and 0 < g["weighted_kappa"] < 1
    assert g["grade_confusion"][3] == [0, 0, 0, 1]  # judged 3 -> said 3
    assert expected_grade({"3": 0.5, "0": 0.5}) == 1.5 and expected_grade(None, "2") == 2.0


def beir_folder(tmp):
    write(tmp / "corpus.jsonl", "".join(json.dumps(r) + "\n" for r in [
        {"_id": "a", "title": "Boiling eggs", "text": "soft boiled eggs take six minutes"},
        {"_id": "b", "title": "", "text": "trains leave the station every hour"},
        {"_id": "c", "title": "Eggs", "text": "hard boiled eggs take ten minutes of boiling"},
        {"_id": "d", "title": "Weather", "text": "rain is expected tomorrow"}] +
        [{"_id": f"x{i}", "title": "", "text": f"an unrelated note number {i} about gardens and paint"} for i in range(8)]))
    write(tmp / "queries.jsonl", json.dumps({"_id": "1", "text": "how long to boil eggs"}) + "\n" +
          json.dumps({"_id": "2", "text": "trains from the station"}) + "\n" + json.dumps({"_id": "3", "text": "no judgements"}) + "\n")
    write(tmp / "qrels" / "test.tsv", "query-id\tcorpus-id\tscore\n1\ta\t3\n1\tc\t2\n2\tb\t3\n")
    return tmp


def test_beir_and_trec_readers(tmp_path):
    corpus, queries, qrels = read_beir(beir_folder(tmp_path))
    assert corpus["a"] == "Boiling eggs soft boiled eggs take six minutes" and corpus["b"].startswith("trains")
    assert queries["2"] == "trains from the station" and qrels == {"1": {"a": 3, "c": 2}, "2": {"b": 3}}
    write(tmp_path / "trec.qrels", "1 0 a 3\n1 0 c 2\n2 Q0 b 1\n")
    assert read_qrels(tmp_path / "trec.qrels") == {"1": {"a": 3, "c": 2}, "2": {"b": 1}}
    write(tmp_path / "bad.qrels", "1 0 a 3\n1 0 c high\n")
    with pytest.raises(InputError, match=r"bad.qrels:2.*'high'"):
        read_qrels(tmp_path / "bad.qrels")
    write(tmp_path / "x" / "corpus.jsonl", '{"_id": "a", "text": "t"}\n{oops\n')
    with pytest.raises(InputError, match=r"corpus.jsonl:2"):
        read_beir(tmp_path / "x")


def test_bm25_candidates_rank_the_matching_documents_first(tmp_path):
    corpus, queries, _ = read_beir(beir_folder(tmp_path))
    c = bm25_candidates(corpus, queries, k=2)
    assert {d for d, _ in c["1"]} == {"a", "c"} and c["2"][0][0] == "b"


def test_search_pairs_command_writes_a_relevance_project_file(tmp_path):
    folder = beir_folder(tmp_path / "beir")
    out = tmp_path / "pairs.jsonl"
    r = CliRunner().invoke(app, ["search", "pairs", str(folder), "--out", str(out), "--k", "3"])
    assert r.exit_code == 0, r.output
    rows = [json.loads(x) for x in out.read_text().splitlines()]
    assert len(rows) == 6 and {r["query_id"] for r in rows} == {"1", "2"}  # query 3 has no judgements
    assert [r["doc_id"] for r in rows[:2]] in (["a", "c"], ["c", "a"])  # BM25 order, best first
    by = {r["id"]: r for r in rows}
    assert by["1|a"]["label"] == 3 and by["1|c"]["label"] == 2
    assert all(r["label"] == 0 for k, r in by.items() if k not in ("1|a", "1|c", "2|b"))  # unjudged -> 0
    assert "wrote 6 pairs for 2 queries" in " ".join(r.output.split())


def test_relevance_kind_brings_its_own_parts(tmp_path):
    from labelwise import Project
    from labelwise.tasks.kinds import task_kind
    k = task_kind("relevance")
    assert k.two_texts and list(k.default_labels) == ["3", "2", "1", "0"] and k.starter is not None
    write(tmp_path / "data.csv", "id,q,d,label\n1,eggs,boil them,2.0\n")
    write(tmp_path / "labelwise.yaml", "task: {kind: relevance, text_field: q}\ndata: {path: data.csv, id_field: id, "
          "label_field: label}\n")
    with pytest.raises(ConfigError, match="text_pair_field"):
        Project.open(tmp_path)
    write(tmp_path / "labelwise.yaml", "task: {kind: relevance, text_field: q, text_pair_field: d}\n"
          "data: {path: data.csv, id_field: id, label_field: label}\n")
    p = Project.open(tmp_path)
    assert p.task.labels == ("3", "2", "1", "0") and p.read_data()[0].gold == "2"
    with pytest.raises(ValueError):
        p.task.normalize_gold(4)


def test_the_english_analyzer_matches_inflections_the_plain_one_misses():
    from labelwise.search.bm25 import analyzer
    assert analyzer("english")("The Boundaries of flowing layers") == ["boundari", "flow", "layer"]
    assert analyzer("plain")("The Boundaries") == ["the", "boundaries"]
    corpus = {"d1": "boundaries of turbulent layers", "d2": "the cat sat on the mat", "d3": "a layer cake recipe"}
    queries = {"q": "boundary layer"}
    plain = bm25_candidates(corpus, queries, k=3, analyzer_name="plain")["q"]
    english = bm25_candidates(corpus, queries, k=3, analyzer_name="english")["q"]
    assert plain[0] == ("d3", plain[0][1]) and dict(plain)["d1"] == 0.0  # "boundaries", "layers": no exact word
    assert english[0][0] == "d1" and english[0][1] > dict(english)["d3"] > 0  # both stems match d1
    with pytest.raises(ValueError, match="unknown BM25 analyzer 'french'"):
        analyzer("french")


def test_search_pairs_refuses_an_unknown_analyzer(tmp_path):
    r = CliRunner().invoke(app, ["search", "pairs", str(tmp_path), "-o", str(tmp_path / "p.jsonl"), "--analyzer", "x"])
    assert r.exit_code == 2 and "use one of english, plain" in r.output
