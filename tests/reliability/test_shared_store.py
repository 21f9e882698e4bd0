"""Several real `labelwise annotate` processes on one PostgreSQL project (a real throw-away cluster)
and a real HTTP fault server: they cooperate instead of being refused, each question is paid once
(a killed worker's claims lapse and are taken over), and one budget holds for all of them."""
import signal
import subprocess
import time

import psycopg
import pytest

from tests.servers import FaultServer, scored

from .conftest import CLI, make_project

pytestmark = [pytest.mark.external, pytest.mark.slow]


def _rows(url, sql):
    with psycopg.connect(url) as c:
        try:
            return c.execute(sql).fetchone()
        except psycopg.errors.UndefinedTable:
            return (0, 0)


def _start(proj, n):
    return [subprocess.Popen([*CLI, "annotate", "-p", str(proj)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True) for _ in range(n)]


@pytest.mark.parametrize("workers", [2, 4])
def test_workers_share_a_postgres_project_and_a_killed_one_costs_nothing_twice(tmp_path, postgres, workers):
    url = postgres.new_database()
    n = 80
    with FaultServer(default=scored(delay=0.05)) as server:
        proj = make_project(tmp_path / "p", server.url, n=n, concurrency=2,
                            extra=f"store:\n  url: {url}\n  lease_s: 2\n")
        procs = _start(proj, workers)
        deadline = time.time() + 90
        while _rows(url, "SELECT COUNT(*) FROM ledger")[0] < 10 and time.time() < deadline:
            time.sleep(0.05)
        procs[0].send_signal(signal.SIGKILL)  # dies with calls in flight and claims held
        outs = [p.communicate(timeout=180) for p in procs]
        for p, (out, err) in zip(procs[1:], outs[1:]):
            assert p.returncode == 0, err
        # the killed worker's items were taken over once its leases lapsed: everything is labeled
        assert _rows(url, "SELECT COUNT(*), COUNT(DISTINCT record_id) FROM annotations") == (n, n)
        assert _rows(url, "SELECT COUNT(*), COUNT(DISTINCT cache_key) FROM ledger") == (n, n)
        assert _rows(url, "SELECT COUNT(*) FROM claims") == (0,)
        # the server saw each question once, but for what the killed worker had in flight
        # (sent, never written: its concurrency, 2) and was then asked again by its successor
        assert n <= len(server.chat_requests) <= n + 2
        assert len(server.chat_requests) - n <= _rows(url, "SELECT COUNT(*) FROM budget_reservations")[0]
        # a rerun finds everything done and pays nothing
        again = subprocess.run([*CLI, "annotate", "-p", str(proj)], capture_output=True, text=True, timeout=120)
        assert again.returncode == 0 and f"{n} were already done" in " ".join(again.stdout.split())
        assert len(server.chat_requests) <= n + 2


def test_one_budget_for_every_worker_even_when_one_is_killed(tmp_path, postgres):
    url = postgres.new_database()
    with FaultServer(default=scored(delay=0.05)) as server:
        proj = make_project(tmp_path / "p", server.url, n=120, concurrency=4,
                            budget="budget:\n  requests: 50\n", extra=f"store:\n  url: {url}\n  lease_s: 2\n")
        procs = _start(proj, 3)
        deadline = time.time() + 90
        while _rows(url, "SELECT COUNT(*) FROM ledger")[0] < 8 and time.time() < deadline:
            time.sleep(0.02)
        procs[0].send_signal(signal.SIGKILL)  # its calls in flight stay reserved: they may have been paid
        outs = [p.communicate(timeout=180) for p in procs]
        assert [p.returncode for p in procs[1:]] == [3, 3], [o[1] for o in outs]  # stopped by the budget
        paid, = _rows(url, "SELECT requests FROM spend_totals")
        held, = _rows(url, "SELECT COALESCE(SUM(requests), 0) FROM budget_reservations")
        assert paid + held == 50  # the budget, spent to the last request, never past it
        assert len(server.chat_requests) <= 50  # what the server was asked, the dead worker's calls included
        assert _rows(url, "SELECT COUNT(*), COUNT(DISTINCT cache_key) FROM ledger") == (paid, paid)
