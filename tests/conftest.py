import os
from pathlib import Path

import pytest

from labelwise.config import TaskConfig

os.environ.setdefault("HF_HUB_OFFLINE", "1")


@pytest.fixture
def sentiment_task_cfg() -> TaskConfig:
    return TaskConfig(kind="classification", instructions="Is the review positive or negative?",
                      labels={"positive": "likes it", "negative": "dislikes it"})


def write(path: Path, text: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


# -- in CI a real-model test may not skip ---------------------------------------------------------
# A failed model pull or a missing extra used to turn the real-model tests into skips and leave CI
# green. With CI=true (as CI runs .ci/run) such a skip is a failure, with the skip's reason.
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):  # noqa: ANN001
    outcome = yield
    report = outcome.get_result()
    if IN_CI and report.skipped and any(item.get_closest_marker(m) for m in ("real_model", "browser", "external")):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        report.outcome = "failed"
        report.longrepr = f"real-model or browser test skipped in CI (CI=true), which hides a broken set-up: {reason}"


@pytest.hookimpl(hookwrapper=True)
def pytest_make_collect_report(collector):  # noqa: ANN001
    outcome = yield
    report = outcome.get_result()
    if IN_CI and report.skipped:  # a whole module skipped, e.g. by importorskip of a model package
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        report.outcome = "failed"
        report.longrepr = f"{collector.nodeid} skipped at collection in CI (CI=true): {reason}"


# -- a real PostgreSQL for the store tests (tests/pg.py) ---------------------------------------------
@pytest.fixture(scope="session")
def postgres():
    """A throw-away PostgreSQL cluster for the session (started on first use)."""
    pytest.importorskip("psycopg", reason="the PostgreSQL store needs psycopg (scripts/setup.sh installs it)")
    from tests.pg import PostgresCluster, pg_bin
    if pg_bin() is None:
        pytest.skip("PostgreSQL is not installed (Debian: apt-get install postgresql)")
    cluster = PostgresCluster().start()
    yield cluster
    cluster.stop()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.external)])
def store_at(request, tmp_path):
    """Where a project database lives, once per backend: a SQLite file, then a fresh PostgreSQL database."""
    if request.param == "sqlite":
        return str(tmp_path / "p.db")
    return request.getfixturevalue("postgres").new_database()
