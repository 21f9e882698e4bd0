"""The review page in a real headless Chromium against a real server and SQLite file: keyboard
only labeling, NER spans, two reviewers at once, inert hostile text, refused requests, gold
accuracy on the stats page."""
import json

import pytest

from labelwise import Project
from labelwise.annotators.fake import FakeAnnotator
from labelwise.cli.review_cmds import add_reviewer
from labelwise.review.server import ReviewState, make_app
from tests.conftest import write
from tests.review.browser import browser, serving
from tests.review.conftest import EVIL, make_project

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def login(b, base, token):
    page = b.new_page()
    page.goto(f"{base}/login?token={token}")
    page.wait_for_selector("#item-data, .done", state="attached")
    return page


def next_item(page, previous):
    page.wait_for_function("prev => { const el = document.getElementById('item-data'); "
                           "return !el || JSON.parse(el.textContent).record_id !== prev; }", arg=previous)
    el = page.query_selector("#item-data")
    return json.loads(el.text_content()) if el else None


def test_a_reviewer_labels_20_items_with_the_keyboard_alone(tmp_path):
    p = make_project(tmp_path, n=30, gold=10)
    token = add_reviewer(p, "alice")
    state = ReviewState(p, small_model=False)
    with serving(make_app(state)) as base, browser() as b:
        page = login(b, base, token)
        seen, item = [], json.loads(page.text_content("#item-data"))
        for k in range(20):
            seen.append(item["record_id"])
            page.keyboard.press("Enter" if k % 3 == 0 else ("1" if k % 3 == 1 else "2"))
            item = next_item(page, seen[-1])
        page.keyboard.press("?")
        assert page.is_visible("#help")
    anns = {a.record_id: a for a in p.store.annotations(annotator_id="human/alice")}
    assert len(anns) == 20 and set(anns) == set(seen)
    labels = list(p.task.labels)
    for k, rid in enumerate(seen):
        want = state.pre[rid].label if k % 3 == 0 else labels[0 if k % 3 == 1 else 1]
        assert anns[rid].label == want and anns[rid].latency_s > 0


def test_undo_and_reject_keys(tmp_path):
    p = make_project(tmp_path, n=12, gold=0)
    token = add_reviewer(p, "alice")
    with serving(make_app(ReviewState(p, small_model=False))) as base, browser() as b:
        page = login(b, base, token)
        first = json.loads(page.text_content("#item-data"))["record_id"]
        page.keyboard.press("x")
        second = next_item(page, first)["record_id"]
        page.keyboard.press("u")
        back = next_item(page, second)
        assert back["record_id"] == first
        page.keyboard.press("s")
        assert next_item(page, first)["record_id"] != first
    assert p.store.annotations(annotator_id="human/alice") == []


def ner_project(tmp):
    rows = [{"id": f"s{i}", "tokens": ["Maria", "visited", "New", "York", "today"],
             "ner_tags": ["B-person", "O", "B-location", "I-location", "O"]} for i in range(3)]
    write(tmp / "data.jsonl", "".join(json.dumps(r) + "\n" for r in rows))
    write(tmp / "labelwise.yaml", """
task: {kind: ner, text_field: tokens, labels: {person: people, location: places}}
data: {path: data.jsonl, id_field: id}
annotator: {backend: fake, model: tagger}
""")
    p = Project.open(tmp)
    # the LLM found Maria but tagged only "York" as a location
    p.__dict__["annotator"] = FakeAnnotator(lambda q: '{"entities": [{"text": "Maria", "type": "person"}, '
                                            '{"text": "York", "type": "location"}]}', model="tagger")
    p.run(watch_gold=False)
    p.store.queue_for_review("test", [r["id"] for r in rows], "suspect tags")
    return p


def test_an_ner_span_corrected_with_the_keyboard_and_the_mouse(tmp_path):
    p = ner_project(tmp_path)
    token = add_reviewer(p, "alice")
    with serving(make_app(ReviewState(p, small_model=False))) as base, browser() as b:
        page = login(b, base, token)
        item = json.loads(page.text_content("#item-data"))
        assert item["pre"] == ["B-person", "O", "O", "B-location", "O"]
        for _ in range(2):
            page.keyboard.press("ArrowRight")  # cursor on "New"
        page.keyboard.press("Shift+ArrowRight")  # "New York"
        page.keyboard.press("2")  # location
        page.keyboard.press("Enter")
        second = next_item(page, item["record_id"])
        page.click(".tok[data-i='2']")
        page.click(".tok[data-i='3']", modifiers=["Shift"])
        page.click("button.label[data-label='location']")
        page.click(".tok[data-i='0']")
        page.keyboard.press("0")  # untag Maria
        page.click("#accept")
        next_item(page, second["record_id"])
    got = {a.record_id: a.label for a in p.store.annotations(annotator_id="human/alice")}
    assert got[item["record_id"]] == ("B-person", "O", "B-location", "I-location", "O")
    assert got[second["record_id"]] == ("O", "O", "B-location", "I-location", "O")


def test_two_reviewers_on_one_item_at_once_lose_nothing(tmp_path):
    p = make_project(tmp_path, n=10, gold=0, extra_yaml="review: {overlap: 2}\n")
    ta, tb = add_reviewer(p, "alice"), add_reviewer(p, "bob")
    with serving(make_app(ReviewState(p, small_model=False))) as base, browser() as b:
        pa, pb = login(b, base, ta), login(b, base, tb)
        ia, ib = (json.loads(x.text_content("#item-data")) for x in (pa, pb))
        assert ia["record_id"] == ib["record_id"]
        pa.keyboard.press("1")
        pb.keyboard.press("2")
        next_item(pa, ia["record_id"])
        next_item(pb, ib["record_id"])
        # the same reviewer in a second window, on a page older than her answer
        stale = b.new_page()
        stale.context.add_cookies(pa.context.cookies())
        stale.goto(f"{base}/?item={ia['record_id']}")
        pa.goto(f"{base}/?item={ia['record_id']}")
        pa.keyboard.press("2")  # she changes her answer in the first window
        next_item(pa, ia["record_id"])
        stale.keyboard.press("1")
        stale.wait_for_function("document.getElementById('msg').textContent.includes('another window')")
    got = {a.annotator_id: a.label for a in p.store.annotations() if a.record_id == ia["record_id"]
           and a.annotator_id.startswith("human/")}
    labels = list(p.task.labels)
    assert got == {"human/alice": labels[1], "human/bob": labels[1]}


def test_hostile_text_renders_inert(tmp_path):
    p = make_project(tmp_path, n=2, gold=0, texts=EVIL)
    token = add_reviewer(p, "alice")
    with serving(make_app(ReviewState(p, small_model=False))) as base, browser() as b:
        page = b.new_page()
        dialogs = []
        page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
        page.goto(f"{base}/login?token={token}")
        page.wait_for_selector("#item-data", state="attached")
        for _ in range(2):
            text = page.inner_text(".ftext")
            assert ("<script>" in text) or ("<img" in text)  # shown as text
            assert page.query_selector("main img") is None and page.evaluate("window.__pwned") is None
            rid = json.loads(page.text_content("#item-data"))["record_id"]
            page.keyboard.press("1")
            next_item(page, rid)
        assert dialogs == []


def test_requests_without_a_session_or_with_another_reviewers_csrf_are_refused(tmp_path):
    p = make_project(tmp_path, n=6, gold=0)
    ta, tb = add_reviewer(p, "alice"), add_reviewer(p, "bob")
    with serving(make_app(ReviewState(p, small_model=False))) as base, browser() as b:
        anon = b.new_page()
        anon.goto(base)
        assert "Log in first" in anon.content()
        status = anon.evaluate("""base => fetch(base + '/api/answer', {method: 'POST', headers: {'Content-Type':
            'application/json'}, body: JSON.stringify({record_id: 'r0', action: 'label', label: 'positive'})})
            .then(r => r.status)""", base)
        assert status == 401
        pb = login(b, base, tb)
        bob_csrf = pb.get_attribute("meta[name=csrf-token]", "content")
        pa = login(b, base, ta)
        rid = json.loads(pa.text_content("#item-data"))["record_id"]
        status = pa.evaluate("""([csrf, rid]) => fetch('/api/answer', {method: 'POST', headers: {'Content-Type':
            'application/json', 'X-CSRF-Token': csrf}, body: JSON.stringify({record_id: rid, action: 'label',
            label: 'positive'})}).then(r => r.status)""", [bob_csrf, rid])
        assert status == 403
    assert [a for a in p.store.annotations() if a.annotator_id.startswith("human/")] == []


def test_gold_accuracy_appears_after_gold_items_are_answered(tmp_path):
    p = make_project(tmp_path, n=24, gold=12, extra_yaml="review: {gold_share: 0.4}\n")
    token = add_reviewer(p, "alice")
    with serving(make_app(ReviewState(p, small_model=False))) as base, browser() as b:
        page = login(b, base, token)
        for _ in range(40):
            el = page.query_selector("#item-data")
            if el is None:
                break
            rid = json.loads(el.text_content())["record_id"]
            page.keyboard.press("1")
            next_item(page, rid)
        page.goto(f"{base}/stats")
        row = page.inner_text("#stats tr:nth-child(2)")
    cells = row.split("\t")
    assert cells[0] == "alice" and int(cells[2]) >= 1 and "%" in cells[3] and "–" in cells[4]


def test_the_readme_screenshot_script_writes_a_png(tmp_path):
    import subprocess
    import sys
    from pathlib import Path
    root = Path(__file__).resolve().parents[2]
    out = tmp_path / "review.png"
    r = subprocess.run([sys.executable, str(root / "scripts" / "screenshot_review.py"), "--out", str(out)],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and out.stat().st_size > 10_000


def test_relevance_grades_are_picked_by_their_own_digit(tmp_path):
    import math
    write(tmp_path / "pairs.csv", "id,query,document\n" + "".join(
        f"p{i},boil an egg,document number {i} about eggs\n" for i in range(4)))
    write(tmp_path / "labelwise.yaml", "task: {kind: relevance, text_field: query, text_pair_field: document}\n"
          "data: {path: pairs.csv, id_field: id}\nannotator: {backend: fake, model: grader}\n")
    p = Project.open(tmp_path)
    p.__dict__["annotator"] = FakeAnnotator(lambda q: {c: math.log(0.7 if c == "1" else 0.1) for c in q.choices})
    p.run(watch_gold=False)
    p.store.queue_for_review("test", [f"p{i}" for i in range(4)], "grade check")
    token = add_reviewer(p, "alice")
    with serving(make_app(ReviewState(p, small_model=False))) as base, browser() as b:
        page = login(b, base, token)
        assert page.inner_text("main").count("query") >= 1 and "boil an egg" in page.inner_text(".ftext")
        assert page.inner_text("button.label[data-label='3'] kbd") == "3"
        given = {}
        for key in ("0", "3", "2"):
            rid = json.loads(page.text_content("#item-data"))["record_id"]
            page.keyboard.press(key)
            given[rid] = key
            next_item(page, rid)
    got = {a.record_id: a.label for a in p.store.annotations(annotator_id="human/alice")}
    assert got == given
