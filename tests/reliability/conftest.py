"""Projects on a real SQLite file, answered by a real HTTP fault server on 127.0.0.1."""
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import write
from tests.servers import FaultServer

CLI = [sys.executable, "-m", "labelwise.cli.app"]


def make_project(d: Path, url: str, n: int = 40, *, extra: str = "", budget: str = "", ids: bool = False,
                 concurrency: int = 8, rows: list[str] | None = None, timeout_s: float = 5) -> Path:
    rows = rows if rows is not None else [f"review {i} " + ("great" if i % 2 else "awful") for i in range(n)]
    write(d / "data.csv", ("id,text\n" if ids else "text\n") +
          "".join((f"r{i},{t}\n" if ids else f"{t}\n") for i, t in enumerate(rows)))
    write(d / "prices.yaml", "- match: 'openai/fault-model'\n  input_per_mtok: 1000\n  output_per_mtok: 1000\n")
    write(d / "labelwise.yaml", f"""
task:
  kind: classification
  instructions: Is the review positive or negative?
  labels: {{positive: likes it, negative: dislikes it}}
data:
  path: data.csv
{"  id_field: id" if ids else ""}
annotator:
  backend: openai
  model: fault-model
  base_url: {url}
  concurrency: {concurrency}
  max_retries: 0
  timeout_s: {timeout_s}
prices: prices.yaml
{budget}
{extra}
""")
    return d


def cli(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=timeout)


@pytest.fixture
def server():
    with FaultServer() as s:
        yield s
