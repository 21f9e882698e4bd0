"""Money budgets at concurrency 64 against a real HTTP server: a job that fits completes; a
server that bills more than the bound is stopped right after, with how much it passed."""
import sqlite3

import pytest

from tests.servers import FaultServer, scored

from .conftest import cli, make_project

N = 200
PER_CALL = 43 * 1000 / 1e6  # 42 prompt + 1 completion token at $1000 per million


@pytest.mark.parametrize("concurrency", [1, 64])
def test_a_job_that_fits_the_money_budget_completes_at_any_concurrency(tmp_path, concurrency):
    job = N * PER_CALL  # $8.60; each call reserves its upper bound, several times that
    with FaultServer(default=scored(delay=0.01)) as server:
        proj = make_project(tmp_path / "p", server.url, n=N, concurrency=concurrency,
                            budget=f"budget:\n  money: {job * 1.05:.4f}")
        r = cli("annotate", "-p", str(proj))
        assert r.returncode == 0, r.stdout + r.stderr
        assert f"annotated {N} item(s)" in " ".join(r.stdout.split())
        assert len(server.chat_requests) == N
    with sqlite3.connect(proj / "labelwise.db") as c:
        spent = c.execute("SELECT SUM(cost) FROM ledger").fetchone()[0]
        assert c.execute("SELECT COUNT(*) FROM budget_reservations").fetchone()[0] == 0
    assert spent == pytest.approx(job) and spent <= job * 1.05


def test_a_server_that_over_bills_is_stopped_once_spend_passes_the_limit(tmp_path):
    billed = scored(prompt_tokens=5000, delay=0.01)  # far above the prompt's byte bound
    with FaultServer(default=billed) as server:
        proj = make_project(tmp_path / "p", server.url, n=N, concurrency=4, budget="budget:\n  money: 20.0")
        r = cli("annotate", "-p", str(proj))
        text = " ".join((r.stdout + r.stderr).split())
        assert r.returncode == 3, text
        assert "budget.money exceeded by $" in text and "no further call is sent" in text
        sent = len(server.chat_requests)
    per_call = 5001 * 1000 / 1e6
    assert sent < N
    # once spend passed $20, only calls already in flight (at most 4) were still answered
    assert sent * per_call <= 20.0 + 4 * per_call + per_call


def test_votes_are_reserved_before_they_are_sent_and_counted_in_requests(tmp_path):
    """A server without log-probabilities: each item is answered by 5 sampled votes (after one
    probe on the first item). Under requests: 14 the third item's votes do not fit and are never
    sent; the ledger counts paid requests, not answers."""
    from tests.servers import plain
    with FaultServer(default=plain("positive")) as server:
        proj = make_project(tmp_path / "p", server.url, n=5, concurrency=1, budget="budget:\n  requests: 14",
                            extra="")
        r = cli("annotate", "-p", str(proj))
        assert r.returncode == 3, r.stdout + r.stderr
        assert "budget for requests reached: 11 requests spent" in " ".join(r.stdout.split())
        assert len(server.chat_requests) == 11  # probe + 5 votes, then 5 votes; the third item's never went out
    with sqlite3.connect(proj / "labelwise.db") as c:
        assert c.execute("SELECT SUM(requests), COUNT(*) FROM ledger").fetchone() == (11, 2)
        assert c.execute("SELECT COUNT(*) FROM budget_reservations").fetchone()[0] == 0
