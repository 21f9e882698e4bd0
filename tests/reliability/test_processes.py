"""Two runs on one project, in real processes: the second is told and waits or stops; nothing
is paid twice; the budget is one budget for both."""
import sqlite3
import subprocess
import time

from labelwise.cost import Budget
from labelwise.errors import BudgetExhausted
from labelwise.store import Store
from tests.servers import FaultServer, scored

from .conftest import CLI, cli, make_project


def ledger_rows(db):
    try:
        with sqlite3.connect(db) as c:
            return c.execute("SELECT COUNT(*) FROM ledger").fetchone()[0]
    except sqlite3.OperationalError:
        return 0


def test_a_second_annotate_is_refused_or_queued_and_nothing_is_paid_twice(tmp_path):
    with FaultServer(default=scored(delay=0.05)) as server:  # 120 x 0.05 s: the first run takes 6 s
        proj = make_project(tmp_path / "p", server.url, n=120, concurrency=1)
        first = subprocess.Popen([*CLI, "annotate", "-p", str(proj)], stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE, text=True)
        deadline = time.time() + 60
        while ledger_rows(proj / "labelwise.db") < 3 and time.time() < deadline:
            time.sleep(0.02)
        refused = cli("annotate", "-p", str(proj))
        queued = subprocess.Popen([*CLI, "annotate", "-p", str(proj), "--wait"], stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True)
        out1, err1 = first.communicate(timeout=120)
        out2, err2 = queued.communicate(timeout=120)
        assert refused.returncode == 5, refused.stdout + refused.stderr
        assert "is in use by pid" in refused.stderr and "--wait" in refused.stderr
        assert first.returncode == 0, err1
        assert queued.returncode == 0, err2
        assert "120 were already done" in " ".join(out2.split())
        assert len(server.chat_requests) == 120  # one paid request per item, across all three
        with sqlite3.connect(proj / "labelwise.db") as c:
            assert c.execute("SELECT COUNT(*), COUNT(DISTINCT cache_key) FROM ledger").fetchone() == (120, 120)
            assert c.execute("SELECT COUNT(*) FROM annotations").fetchone()[0] == 120


def test_two_connections_share_one_budget_and_a_killed_holder_gives_its_reservations_back(tmp_path):
    db = tmp_path / "p.db"
    a, b = Store(db), Store(db)  # as two processes would open it
    ba, bb = Budget(requests=3, store=a), Budget(requests=3, store=b)
    ba.reserve(0, 1, requests=1)
    bb.reserve(0, 1, requests=1)
    ba.reserve(0, 1, requests=1)
    try:
        bb.reserve(0, 1, requests=1)
        raise AssertionError("a fourth request was granted under requests: 3")
    except BudgetExhausted as e:
        assert "3 requests reserved by calls in flight" in str(e) or "(+3 requests reserved" in str(e)
    a.close()
    b.close()  # both "processes" gone with their calls in flight
    c = Store(db)
    with c.lock("annotate"):  # the next holder of the project: nobody else can have calls in flight
        assert Budget(requests=3, store=c).state()["reserved"]["requests"] == 0
