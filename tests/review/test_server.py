"""The review app over HTTP (Starlette's test client on the real app and a real SQLite file):
login, CSRF, answers as annotations, stale writes, two reviewers, undo, gold accuracy, second
looks, escaping."""
import re

import pytest
from starlette.testclient import TestClient

from labelwise.review.queue import SECOND_LOOK
from labelwise.review.server import make_app
from tests.review.conftest import EVIL, make_project
from labelwise.review.server import ReviewState


def client(state, token=None):
    c = TestClient(make_app(state))
    if token:
        r = c.get(f"/login?token={token}", follow_redirects=False)
        assert r.status_code == 303 and "lw_session" in r.cookies
    return c


def page_item(c):
    r = c.get("/")
    assert r.status_code == 200, r.text
    csrf = re.search(r"name='csrf-token' content='([^']+)'", r.text).group(1)
    m = re.search(r'"record_id": "([^"]+)".*?"version": (\d+)', r.text)
    return r, csrf, m.group(1), int(m.group(2))


def post(c, url, body, csrf):
    return c.post(url, json=body, headers={"X-CSRF-Token": csrf})


def test_login_is_required_and_bad_tokens_are_refused(state, tokens):
    c = client(state)
    assert c.get("/").status_code == 401 and c.get("/login?token=nope").status_code == 403
    assert c.post("/api/answer", json={}).status_code == 401
    c = client(state, tokens["alice"])
    r, csrf, rid, _ = page_item(c)
    assert "alice" in r.text and "in the queue because" in r.text
    assert "script-src 'nonce-" in r.headers["content-security-policy"]


def test_csrf_must_be_the_sessions_own(state, tokens):
    a, b = client(state, tokens["alice"]), client(state, tokens["bob"])
    _, csrf_a, rid, v = page_item(a)
    _, csrf_b, _, _ = page_item(b)
    body = {"record_id": rid, "action": "label", "label": "positive", "version": v}
    assert a.post("/api/answer", json=body).status_code == 403  # no token
    assert post(a, "/api/answer", body, csrf_b).status_code == 403  # bob's token on alice's session
    assert state.store.annotations(annotator_id="human/alice") == []
    assert post(a, "/api/answer", body, csrf_a).status_code == 200
    (ann,) = state.store.annotations(annotator_id="human/alice")
    assert ann.record_id == rid and ann.label == "positive" and ann.template_hash == state.task.template_hash


def test_a_stale_page_cannot_overwrite_and_two_reviewers_keep_both_answers(state, tokens):
    a, b = client(state, tokens["alice"]), client(state, tokens["bob"])
    _, csrf_a, rid, v = page_item(a)
    _, csrf_b, _, _ = page_item(b)
    r = b.get(f"/?item={rid}")  # bob opens alice's item too
    vb = int(re.search(r'"version": (\d+)', r.text).group(1))
    assert post(a, "/api/answer", {"record_id": rid, "action": "label", "label": "negative", "version": v},
                csrf_a).status_code == 200
    assert post(b, "/api/answer", {"record_id": rid, "action": "label", "label": "positive", "version": vb},
                csrf_b).status_code == 200
    stale = post(a, "/api/answer", {"record_id": rid, "action": "label", "label": "positive", "version": v}, csrf_a)
    assert stale.status_code == 409 and "another window" in stale.json()["error"]
    got = {x.annotator_id: x.label for x in state.store.annotations() if x.annotator_id.startswith("human/")}
    assert got == {"human/alice": "negative", "human/bob": "positive"}  # nobody's answer lost
    s = a.get("/api/stats").json()  # and the disagreement shows, per item and per reviewer
    assert s["shared_items"] == 1 and s["disagreements"] == [
        {"record_id": rid, "answers": {"alice": "negative", "bob": "positive"}, "agreement": 0.5}]
    assert {r["reviewer"]: r["agrees_with_others"] for r in s["reviewers"]} == {"alice": 0.0, "bob": 0.0}
    assert rid in a.get("/stats").text


def test_accept_reject_skip_undo(state, tokens):
    c = client(state, tokens["alice"])
    _, csrf, first, v = page_item(c)
    assert post(c, "/api/answer", {"record_id": first, "action": "accept", "version": v}, csrf).json()["ok"]
    _, _, second, v2 = page_item(c)
    assert second != first
    assert post(c, "/api/answer", {"record_id": second, "action": "reject", "version": v2}, csrf).status_code == 200
    anns = {x.record_id: x for x in state.store.annotations(annotator_id="human/alice")}
    assert anns[first].label == state.pre[first].label and anns[second].error.startswith("rejected")
    assert post(c, "/api/undo", {}, csrf).json()["record_id"] == second
    assert second not in {x.record_id for x in state.store.annotations(annotator_id="human/alice")}
    r = c.get(f"/?item={second}")
    assert f'"record_id": "{second}"' in r.text and '"version": 2' in r.text  # back, at its new version
    _, _, now, _ = page_item(c)
    assert post(c, "/api/skip", {"record_id": now}, csrf).status_code == 200
    assert page_item(c)[2] != now
    bad = post(c, "/api/answer", {"record_id": now, "action": "label", "label": "meh", "version": 0}, csrf)
    assert bad.status_code == 422 and "not a valid label" in bad.json()["error"]


def test_queue_is_riskiest_first_and_overlap_counts(project, tokens):
    state = ReviewState(project, small_model=False)
    q = state.queue("alice")
    real = [x for x in q if not x.gold]
    assert len(real) == 20 and all(x.confidence is not None for x in real)
    assert [x.risk for x in real] == sorted((x.risk for x in real), reverse=True)
    gold = [x for x in q if x.gold]
    assert 1 <= len(gold) <= 10 and all(x.reason == "not certified by any stage" for x in gold)  # unmarked
    c = client(state, tokens["alice"])
    _, csrf, rid, v = page_item(c)
    post(c, "/api/answer", {"record_id": rid, "action": "accept", "version": v}, csrf)
    assert rid not in {x.record.id for x in state.queue("bob")}  # overlap 1: answered once is done


def test_gold_accuracy_per_reviewer_after_answering(state, tokens):
    c = client(state, tokens["alice"])
    for _ in range(60):
        r = c.get("/")
        if "Nothing left for you" in r.text:
            break
        _, csrf, rid, v = page_item(c)
        assert post(c, "/api/answer", {"record_id": rid, "action": "label", "label": "positive", "version": v},
                    csrf).status_code == 200
    s = c.get("/api/stats").json()
    alice = next(x for x in s["reviewers"] if x["reviewer"] == "alice")
    g = alice["gold"]
    assert g["n"] >= 1 and g["lower"] <= g["accuracy"] <= g["upper"]
    assert g["correct"] == sum(1 for a in state.store.annotations(annotator_id="human/alice")
                               if state.records[a.record_id].gold == "positive")
    assert "gold accuracy" in c.get("/stats").text


def test_disagreeing_with_a_sure_pre_annotation_asks_for_a_second_look(tmp_path):
    p = make_project(tmp_path, gold=0)
    from labelwise.cli.review_cmds import add_reviewer
    tok = add_reviewer(p, "alice")
    state = ReviewState(p, small_model=False)
    sure = next(rid for rid, a in state.pre.items() if a.distribution and max(a.distribution.values()) > 0.9)
    wrong = "positive" if state.pre[sure].label == "negative" else "negative"
    c = client(state, tok)
    _, csrf, _, _ = page_item(c)
    assert post(c, "/api/answer", {"record_id": sure, "action": "label", "label": wrong, "version": 0},
                csrf).status_code == 200
    queue = {rid: (run, why) for rid, run, why in p.store.review_queue()}
    assert queue[sure][0] == SECOND_LOOK and "second look" in queue[sure][1]
    add_reviewer(p, "bob")
    assert sure in {x.record.id for x in state.queue("bob")}  # one more person must answer it


def test_item_text_is_escaped(tmp_path):
    p = make_project(tmp_path, n=2, gold=0, texts=EVIL)
    from labelwise.cli.review_cmds import add_reviewer
    c = client(ReviewState(p, small_model=False), add_reviewer(p, "alice"))
    r = c.get("/")
    assert "<script>window" not in r.text and "<img src=x" not in r.text
    assert "&lt;script&gt;window" in r.text or "&lt;img src=x" in r.text
    island = re.search(r"<script id='item-data' type='application/json'>(.*?)</script>", r.text, re.S).group(1)
    assert "<" not in island and "\\u003c" in island


@pytest.mark.real_model
def test_the_small_models_guess_is_shown(project, tokens):
    state = ReviewState(project)  # logreg on the packaged encoder, fit on the LLM's labels of unqueued items
    assert len(state.small) == 20
    right = sum(guess == ("positive" if "loved" in state.records[rid].fields["text"] else "negative")
                for rid, (_, guess, _) in state.small.items())
    assert right >= 16
    c = client(state, tokens["alice"])
    r, _, rid, _ = page_item(c)
    assert "small model (logreg)" in r.text and state.small[rid][1] in r.text


def test_an_item_open_on_one_page_is_not_sent_to_another_reviewer(state, tokens):
    a, b = client(state, tokens["alice"]), client(state, tokens["bob"])
    _, _, rid_a, _ = page_item(a)
    _, _, rid_b, _ = page_item(b)
    assert rid_a != rid_b  # overlap 1: alice holds her item while she looks at it


def test_export_uses_peoples_answers_where_they_gave_them(project, tokens, tmp_path):
    from typer.testing import CliRunner
    from labelwise.cli.app import app
    state = ReviewState(project, small_model=False)
    a, b = client(state, tokens["alice"]), client(state, tokens["bob"])
    _, csrf_a, rid, v = page_item(a)
    _, csrf_b, _, _ = page_item(b)
    llm = state.pre[rid].label
    other = "positive" if llm == "negative" else "negative"
    assert post(a, "/api/answer", {"record_id": rid, "action": "label", "label": other, "version": v}, csrf_a).json()["ok"]
    assert post(b, "/api/answer", {"record_id": rid, "action": "label", "label": other, "version": 0}, csrf_b).json()["ok"]
    root = project.config.root
    r = CliRunner().invoke(app, ["export", "-p", str(root), "-f", "jsonl"])
    assert r.exit_code == 0 and "2 answers by 2 people used" in " ".join(r.output.split())
    rows = {x["id"]: x for x in map(__import__("json").loads, (root / "labels.jsonl").read_text().splitlines())}
    assert rows[rid]["label"] == other and rows[rid]["labeled_by"] == "human" and rows[rid]["reviewers"] == ["alice", "bob"]
    assert all(x.get("labeled_by") is None for k, x in rows.items() if k != rid)  # the rest as the LLM labeled them


def test_eval_reads_a_reviewers_answers(project, tokens):
    from typer.testing import CliRunner
    from labelwise.cli.app import app
    state = ReviewState(project, small_model=False)
    c = client(state, tokens["alice"])
    gold_items = [r for r in state.records.values() if r.gold is not None][:4]
    _, csrf, _, _ = page_item(c)
    for k, r in enumerate(gold_items):  # three right, one wrong
        label = r.gold if k < 3 else ("positive" if r.gold == "negative" else "negative")
        assert post(c, "/api/answer", {"record_id": r.id, "action": "label", "label": label}, csrf).json()["ok"]
    out = CliRunner().invoke(app, ["eval", "-p", str(project.config.root), "--annotator", "human/alice"])
    assert out.exit_code == 0, out.output
    text = " ".join(out.output.split())
    assert "annotator human/alice: 4 annotated" in text and "4 with gold" in text and "accuracy 75.0%" in text
