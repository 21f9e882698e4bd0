"""The review page's speed (issue 13): how fast a person can go, and how the server holds up.

A project of N items (the bundled Yelp reviews, repeated with a number to reach N; the
pre-annotations come from a scripted annotator, since only the page is measured), all queued
for review. The real CLI (`labelwise review`) serves it in its own process on 127.0.0.1.

- **Browser:** headless Chromium answers `--items` items with the keyboard alone at a scripted
  pace (`--pace` seconds of "reading" per item, then a number key); per item, the time from
  the key press to the next item on screen (server round trip + page load) and the whole
  time per item.
- **Server:** `--reviewers` reviewers at once (threads, one HTTP client each, as fast as they
  can): each loads its next item and answers it; latency per request, p50 and p99, by kind.
"""
from __future__ import annotations

import argparse
import csv
import math
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from importlib import resources
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from results import write_section  # noqa: E402

from labelwise import Project  # noqa: E402
from labelwise.annotators.fake import FakeAnnotator  # noqa: E402
from labelwise.cli.review_cmds import add_reviewer  # noqa: E402


def build(folder: Path, n: int, reviewers: list[str]) -> dict[str, str]:
    text = resources.files("labelwise").joinpath("demo_data", "yelp_reviews.csv").read_text(encoding="utf-8")
    rows = list(csv.DictReader(text.splitlines()))
    with open(folder / "data.csv", "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["id", "text"])
        for i in range(n):
            w.writerow([f"r{i}", f"{rows[i % len(rows)]['text']} (#{i})"])
    (folder / "labelwise.yaml").write_text(
        "task: {kind: classification, labels: {positive: likes it, negative: dislikes it}}\n"
        "data: {path: data.csv, id_field: id}\nannotator: {backend: fake, model: scripted}\n"
        "review: {gold_share: 0}\n", encoding="utf-8")
    p = Project.open(folder)
    p.__dict__["annotator"] = FakeAnnotator(lambda q: {"positive": math.log(0.6), "negative": math.log(0.4)},
                                            model="scripted")
    p.run(watch_gold=False)
    p.store.queue_for_review("bench", [f"r{i}" for i in range(n)], "benchmark")
    return {name: add_reviewer(p, name) for name in reviewers}


def serve(folder: Path, port: int) -> tuple[subprocess.Popen, dict[str, str]]:
    proc = subprocess.Popen([sys.executable, "-m", "labelwise.cli.app", "review", "-p", str(folder), "--port",
                             str(port)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env={**os.environ, "COLUMNS": "300"})
    links: dict[str, str] = {}
    while True:
        line = proc.stdout.readline()
        if not line:
            raise SystemExit("the review server did not start")
        m = re.match(r"\s+(\S+): (http://\S+)", line)
        if m:
            links[m.group(1)] = m.group(2)
        if line.startswith("Ctrl-C"):
            break
    import httpx
    for _ in range(200):
        try:
            httpx.get(f"http://127.0.0.1:{port}/bye")
            break
        except httpx.ConnectError:
            time.sleep(0.05)
    return proc, links


def browser_run(link: str, items: int, pace: float) -> dict[str, float]:
    from playwright.sync_api import sync_playwright
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from tests.review.browser import CHROMIUM_ARGS
    turn, whole = [], []
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path="/usr/bin/chromium", headless=True, args=CHROMIUM_ARGS)
        page = b.new_page()
        page.goto(link)
        page.wait_for_selector("#item-data", state="attached")
        for k in range(items):
            t0 = time.perf_counter()
            rid = page.evaluate("JSON.parse(document.getElementById('item-data').textContent).record_id")
            time.sleep(pace)
            t1 = time.perf_counter()
            page.keyboard.press("1" if k % 2 else "2")
            page.wait_for_function("prev => { const el = document.getElementById('item-data'); "
                                   "return !el || JSON.parse(el.textContent).record_id !== prev; }", arg=rid)
            t2 = time.perf_counter()
            turn.append(t2 - t1)
            whole.append(t2 - t0)
        b.close()
    return {"items": items, "turn_p50": float(np.median(turn)), "turn_p95": float(np.percentile(turn, 95)),
            "per_item": float(np.mean(whole)), "pace": pace}


def server_run(base: str, links: dict[str, str], per_reviewer: int) -> dict[str, list[float]]:
    import httpx
    lat: dict[str, list[float]] = {"page": [], "answer": []}
    lock = threading.Lock()

    def worker(link: str) -> None:
        with httpx.Client() as c:
            c.get(link)
            for _ in range(per_reviewer):
                t0 = time.perf_counter()
                r = c.get(base + "/")
                t1 = time.perf_counter()
                m = re.search(r'"record_id": "([^"]+)".*?"version": (\d+)', r.text)
                if not m:
                    break
                csrf = re.search(r"name='csrf-token' content='([^']+)'", r.text).group(1)
                t2 = time.perf_counter()
                a = c.post(base + "/api/answer", json={"record_id": m.group(1), "action": "label", "label": "positive",
                                                       "version": int(m.group(2))}, headers={"X-CSRF-Token": csrf})
                t3 = time.perf_counter()
                assert a.status_code == 200, a.text
                with lock:
                    lat["page"].append(t1 - t0)
                    lat["answer"].append(t3 - t2)

    threads = [threading.Thread(target=worker, args=(link,)) for link in links.values()]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return lat


def load() -> str:
    return ", ".join(f"{x:.2f}" for x in os.getloadavg())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=2000, help="items in the project (all queued)")
    ap.add_argument("--items", type=int, default=100, help="items the browser answers")
    ap.add_argument("--pace", type=float, default=0.5, help="seconds of scripted reading per item")
    ap.add_argument("--reviewers", type=int, default=4)
    ap.add_argument("--per-reviewer", type=int, default=100, help="items each concurrent reviewer answers")
    ap.add_argument("--port", type=int, default=8899)
    args = ap.parse_args()
    before = load()
    with tempfile.TemporaryDirectory() as d:
        folder = Path(d)
        names = ["browser"] + [f"r{i}" for i in range(args.reviewers)]
        build(folder, args.n, names)
        proc, links = serve(folder, args.port)
        try:
            br = browser_run(links["browser"], args.items, args.pace)
            t0 = time.perf_counter()
            lat = server_run(f"http://127.0.0.1:{args.port}", {k: v for k, v in links.items() if k != "browser"},
                             args.per_reviewer)
            wall = time.perf_counter() - t0
        finally:
            proc.terminate()
            proc.wait(10)
    done = len(lat["answer"])
    rows = [f"| {k} | {len(v)} | {1000 * np.median(v):.1f} | {1000 * np.percentile(v, 99):.1f} | "
            f"{1000 * max(v):.1f} |" for k, v in lat.items() if v]
    body = (f"A project of {args.n} items, all queued; the real `labelwise review` server in its own process on "
            "127.0.0.1 (SQLite project database), pre-annotations from a scripted annotator (only the page is "
            f"measured). Load average before: {before}; after: {load()}.\n\n"
            f"**One reviewer in headless Chromium, keyboard only:** {br['items']} items at a scripted pace of "
            f"{br['pace']:.1f} s reading per item: {br['per_item']:.2f} s per item in all; from the key press to the "
            f"next item on screen p50 {1000 * br['turn_p50']:.0f} ms, p95 {1000 * br['turn_p95']:.0f} ms (the "
            "page's own overhead on top of the person's time).\n\n"
            f"**{args.reviewers} reviewers at once** (one HTTP client each, no pause): {done} answers in {wall:.1f} s "
            f"({done / wall:.0f} answers/s for the server).\n\n"
            "| request | n | p50 ms | p99 ms | max ms |\n|---|---|---|---|---|\n" + "\n".join(rows) +
            "\n\nThe page request builds the reviewer's queue over every item each time (a scan of the queue and "
            f"of who answered what), so its cost grows with the project: this row is for {args.n} items.")
    cmd = "python bench/bench_review.py " + " ".join(sys.argv[1:])
    write_section("review", "Review page: throughput and server latency", body, cmd.strip())


if __name__ == "__main__":
    main()
