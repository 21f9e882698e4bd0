"""`labelwise review` as a user runs it: add-user prints a link, the server starts on
127.0.0.1, prints a fresh link per reviewer (the old one stops working) and serves the queue."""
import os
import re
import subprocess
import sys
import time

import httpx
from typer.testing import CliRunner

from labelwise.cli.app import app
from tests.review.browser import free_port
from tests.review.conftest import make_project


def test_add_user_then_review_prints_working_links(tmp_path):
    make_project(tmp_path, n=8, gold=2)
    r = CliRunner().invoke(app, ["review", "add-user", "alice", "-p", str(tmp_path)])
    assert r.exit_code == 0, r.output
    old = re.search(r"token=(\S+)", r.output).group(1)
    bad = CliRunner().invoke(app, ["review", "add-user", "al ice", "-p", str(tmp_path)])
    assert bad.exit_code != 0
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "labelwise.cli.app", "review", "-p", str(tmp_path), "--port",
                             str(port)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env={**os.environ, "COLUMNS": "200"})
    try:
        lines = []
        while not any("alice: http" in line for line in lines):
            line = proc.stdout.readline()
            assert line, "".join(lines)
            lines.append(line)
        out = "".join(lines)
        assert "review queue: 7 item(s) for alice" in out  # 6 queued + 1 gold question
        link = re.search(r"alice: (http://127\.0\.0\.1:\d+/login\?token=\S+)", out).group(1)
        assert old not in link
        with httpx.Client() as c:
            for _ in range(100):
                try:
                    page = c.get(link, follow_redirects=True)
                    break
                except httpx.ConnectError:
                    time.sleep(0.1)
            assert page.status_code == 200 and "in the queue because" in page.text
            assert c.get(f"http://127.0.0.1:{port}/login?token={old}").status_code == 403  # replaced by the new link
    finally:
        proc.terminate()
        proc.wait(10)
