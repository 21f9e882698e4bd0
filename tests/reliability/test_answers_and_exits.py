"""Answers that cannot be read are that item's error, counted in the ledger at their reserved
bound, and the run goes on; a run that stops with items pending says why in its exit code."""
import asyncio
import math

from labelwise.annotators.fake import FakeAnnotator
from labelwise.cost import Budget
from labelwise.engine import AnnotationRun
from labelwise.errors import MalformedAnswer
from labelwise.store import Store
from labelwise.tasks import make_task
from labelwise.types import Record

from .conftest import cli, make_project


def test_an_unreadable_answer_is_ledgered_at_its_bound_and_the_run_goes_on(tmp_path, sentiment_task_cfg):
    task, store = make_task(sentiment_task_cfg), Store(tmp_path / "p.db")
    recs = [Record(f"r{i}", {"text": f"review {i}"}) for i in range(30)]

    def script(q):
        if "review 7" in q.messages[-1].content or "review 21" in q.messages[-1].content:
            raise MalformedAnswer("choices is [None]", raw={"choices": [None]})
        if "review 13" in q.messages[-1].content:
            raise TypeError("a backend bug while reading the body")
        return {"positive": math.log(0.8), "negative": math.log(0.2)}

    fake = FakeAnnotator(script)
    run = AnnotationRun(task, fake, store, Budget(), None, concurrency=8)
    s = asyncio.run(run.run(recs))
    assert s.annotated == 30 and s.errors == 3 and s.failed == 0 and s.pending == 0
    anns = {a.record_id: a for a in store.annotations()}
    assert anns["r7"].label is None and anns["r7"].error.startswith("MalformedAnswer: choices is [None]")
    assert "TypeError" in anns["r13"].error
    (call,) = store.calls(anns["r7"])
    assert call["response"] is None and call["raw"] == {"choices": [None]} and "choices" in call["error"]
    ledger = store.db.execute("SELECT COUNT(*), SUM(prompt_tokens) FROM ledger").fetchone()
    assert ledger[0] == 30  # every answer received is in the ledger, readable or not
    bound = fake.max_usage(task.queries(recs[7])[0])
    bad = store.db.execute("SELECT prompt_tokens, completion_tokens FROM ledger WHERE cache_key=?",
                           (anns["r7"].call_keys[0],)).fetchone()
    assert bad == (bound.prompt_tokens, bound.completion_tokens)  # unknown usage: counted at its bound
    again = asyncio.run(AnnotationRun(task, fake, store, Budget(), None).run(recs))
    assert again.already_done == 30 and again.calls == 0 and fake.calls == 30


def test_exit_code_3_when_the_budget_stops_with_items_pending(tmp_path, server):
    proj = make_project(tmp_path / "p", server.url, n=10, budget="budget:\n  requests: 4")
    r = cli("annotate", "-p", str(proj))
    assert r.returncode == 3, r.stdout + r.stderr
    assert "6 item(s) still pending" in " ".join(r.stdout.split())
    assert len(server.chat_requests) == 4


def test_exit_code_4_when_the_backend_is_down_and_0_when_all_done(tmp_path, server):
    from tests.servers import free_port
    proj = make_project(tmp_path / "p", f"http://127.0.0.1:{free_port()}/v1", n=12)  # nothing listens
    r = cli("annotate", "-p", str(proj))
    assert r.returncode == 4, r.stdout + r.stderr
    assert "failed and left pending" in " ".join(r.stdout.split())
    proj = make_project(tmp_path / "q", server.url, n=12)
    assert cli("annotate", "-p", str(proj)).returncode == 0


def test_help_documents_the_exit_codes():
    r = cli("annotate", "--help")
    text = " ".join(r.stdout.split())
    assert "3 stopped by the budget" in text and "5 another run holds the project" in text
