"""Annotations per second of labelwise against a local OpenAI-compatible server with a fixed
latency, next to a plain asyncio client (httpx.AsyncClient + asyncio.Semaphore) making the same
calls in the same run. Goal: labelwise >= 90% of the raw client.

The server (tests/servers.py, its own process so it does not share the client's GIL) answers
every chat request after a fixed latency with a ``top_logprobs`` body, concurrently.

* raw: the exact request bodies labelwise sends (rendered once, before the clock starts), posted
  with one httpx.AsyncClient limited to C connections under an asyncio.Semaphore(C); each
  answer's JSON is parsed and its first token's top_logprobs read.
* labelwise: a real ``AnnotationRun`` with the openai backend and a fresh SQLite store on a temp
  file, so prompt rendering, cache keys, budget reservations, the cache + ledger write per call
  and the annotation write per item are all inside the measured time.

Each (concurrency, side) pair is measured ``--rounds`` times (which side goes first alternates); the median
counts. Re-run: ``.venv/bin/python bench/bench_throughput.py`` (``--help`` for options).
"""
from __future__ import annotations

import argparse
import asyncio
import cProfile
import os
import platform
import pstats
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # for tests.servers

import httpcore  # noqa: E402
import httpx  # noqa: E402

from labelwise.annotators.base import make_annotator  # noqa: E402
from labelwise.config import AnnotatorConfig, TaskConfig  # noqa: E402
from labelwise.cost import Budget  # noqa: E402
from labelwise.engine import AnnotationRun  # noqa: E402
from labelwise.store import Store  # noqa: E402
from labelwise.tasks import make_task  # noqa: E402
from labelwise.types import Record  # noqa: E402
from tests.servers import spawn_fault_server  # noqa: E402

RESULTS = ROOT / "bench" / "RESULTS.md"
START, END = "<!-- throughput:start -->", "<!-- throughput:end -->"
MODEL = "fault-model"
WORDS = ("soup", "staff", "room", "pizza", "view", "price", "music", "service", "bed", "coffee")


def make_records(n: int, tag: str) -> list[Record]:
    """Distinct texts, so that nothing is a cache hit."""
    return [Record(id=f"{tag}-{i}", fields={"text": f"Review {tag}-{i}: the {WORDS[i % 10]} was "
                                            f"{'great' if i % 3 else 'awful'} and the {WORDS[(i * 7) % 10]} "
                                            f"was {'fine' if i % 2 else 'poor'}."}) for i in range(n)]


def task():  # type: ignore[no-untyped-def]
    return make_task(TaskConfig(kind="classification", instructions="Classify the sentiment of the review.",
                                labels={"positive": "favourable", "negative": "unfavourable"}))


def payloads(records: list[Record]) -> list[dict[str, Any]]:
    """The body labelwise sends for choice scoring (see OpenAIAnnotator._score)."""
    t = task()
    out = []
    for r in records:
        [q] = t.queries(r)
        out.append({"model": MODEL, "max_tokens": 1, "seed": 0,
                    "messages": [{"role": m.role, "content": m.content} for m in q.messages],
                    "temperature": 0.0, "logprobs": True, "top_logprobs": 20})
    return out


async def raw_client(url: str, bodies: list[dict[str, Any]], concurrency: int) -> tuple[float, float]:
    """Wall seconds and this process's CPU seconds for all the calls."""
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    sem = asyncio.Semaphore(concurrency)
    async with httpx.AsyncClient(timeout=60.0, limits=limits) as client:
        async def one(body: dict[str, Any]) -> int:
            async with sem:
                r = await client.post(f"{url}/chat/completions", json=body)
                r.raise_for_status()
                top = r.json()["choices"][0]["logprobs"]["content"][0]["top_logprobs"]
                return len(top)

        t0, c0 = time.perf_counter(), time.process_time()
        got = await asyncio.gather(*[one(b) for b in bodies])
        elapsed, cpu = time.perf_counter() - t0, time.process_time() - c0
    assert all(got)
    return elapsed, cpu


async def labelwise_run(url: str, records: list[Record], concurrency: int, db: Path) -> tuple[float, float]:
    cfg = AnnotatorConfig(backend="openai", base_url=url, model=MODEL, concurrency=concurrency, timeout_s=60.0)
    ann = make_annotator(cfg)
    try:
        with Store(db) as store:
            run = AnnotationRun(task=task(), annotator=ann, store=store, budget=Budget(), price=None,
                                concurrency=concurrency)
            t0, c0 = time.perf_counter(), time.process_time()
            s = await run.run(records)
            elapsed, cpu = time.perf_counter() - t0, time.process_time() - c0
    finally:
        await ann.aclose()
    assert s.annotated == len(records) and s.calls == len(records) and s.failed == 0 and s.errors == 0, s
    return elapsed, cpu


def measure(url: str, concurrency: int, n: int, rounds: int, tmp: Path) -> dict[str, Any]:
    raw_rates, lw_rates, raw_cpu, lw_cpu = [], [], [], []
    for k in range(rounds):
        recs = make_records(n, f"c{concurrency}r{k}")
        bodies = payloads(recs)
        sides = [("raw", lambda: raw_client(url, bodies, concurrency)),
                 ("lw", lambda: labelwise_run(url, recs, concurrency, tmp / f"c{concurrency}-r{k}.db"))]
        for side, go in sides if k % 2 == 0 else sides[::-1]:  # alternate who goes first
            wall, cpu = asyncio.run(go())
            (raw_rates if side == "raw" else lw_rates).append(n / wall)
            (raw_cpu if side == "raw" else lw_cpu).append(cpu / n * 1000)
        print(f"  c={concurrency} round {k + 1}: raw {raw_rates[-1]:.0f}/s ({raw_cpu[-1]:.2f} ms CPU/item), "
              f"labelwise {lw_rates[-1]:.0f}/s ({lw_cpu[-1]:.2f} ms CPU/item), load {os.getloadavg()[0]:.1f}",
              flush=True)
    raw, lw = statistics.median(raw_rates), statistics.median(lw_rates)
    rc, lc = statistics.median(raw_cpu), statistics.median(lw_cpu)
    return {"concurrency": concurrency, "items": n, "raw": raw, "labelwise": lw, "ratio": lw / raw,
            "raw_cpu": rc, "lw_cpu": lc, "raw_all": raw_rates, "lw_all": lw_rates}


def table(rows: list[dict[str, Any]], latency: float) -> str:
    out = ["| concurrency | items/round | ceiling (C / latency) | raw httpx client | labelwise | labelwise / raw "
           "| client CPU per item: raw / labelwise |",
           "|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        out.append(f"| {r['concurrency']} | {r['items']} | {r['concurrency'] / latency:.0f}/s | {r['raw']:.0f}/s | "
                   f"{r['labelwise']:.0f}/s | **{r['ratio']:.0%}** | {r['raw_cpu']:.2f} ms / {r['lw_cpu']:.2f} ms |")
    return "\n".join(out)


def write_results(section: str) -> None:
    text = RESULTS.read_text(encoding="utf-8") if RESULTS.exists() else "# Benchmark results\n\nMeasured by the scripts in bench/, never edited by hand.\n"
    block = f"{START}\n{section.rstrip()}\n{END}"
    if START in text and END in text:
        text = re.sub(re.escape(START) + r".*?" + re.escape(END), lambda m: block, text, flags=re.S)
    else:
        text = text.rstrip() + "\n\n" + block + "\n"
    RESULTS.write_text(text, encoding="utf-8")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--latency", type=float, default=0.05, help="server latency per request, seconds")
    ap.add_argument("--concurrency", type=int, nargs="+", default=[16, 64])
    ap.add_argument("--items", type=int, nargs="+", default=[500, 1000], help="items per round, per concurrency")
    ap.add_argument("--rounds", type=int, default=6)
    ap.add_argument("--no-write", action="store_true", help="print only; leave bench/RESULTS.md alone")
    ap.add_argument("--profile", type=Path, help="cProfile one labelwise run at the last concurrency into this file")
    a = ap.parse_args()
    items = a.items if len(a.items) == len(a.concurrency) else [a.items[0]] * len(a.concurrency)
    t_start = time.perf_counter()
    load_before = os.getloadavg()[0]
    rows = []
    with spawn_fault_server(a.latency) as url, tempfile.TemporaryDirectory(prefix="lw-bench-") as tmpd:
        tmp = Path(tmpd)
        # warm up both paths (imports, template compilation, connection setup)
        asyncio.run(raw_client(url, payloads(make_records(64, "warm")), 16))
        asyncio.run(labelwise_run(url, make_records(64, "warm"), 16, tmp / "warm.db"))
        for c, n in zip(a.concurrency, items):
            rows.append(measure(url, c, n, a.rounds, tmp))
        if a.profile:
            c, n = a.concurrency[-1], items[-1]
            recs = make_records(n, "profile")
            prof = cProfile.Profile()
            prof.enable()
            asyncio.run(labelwise_run(url, recs, c, tmp / "profile.db"))
            prof.disable()
            prof.dump_stats(str(a.profile))
            pstats.Stats(prof).sort_stats("tottime").print_stats(25)
    wall = time.perf_counter() - t_start
    tbl = table(rows, a.latency)
    print()
    print(tbl)
    cmd = "cd <repo> && .venv/bin/python bench/bench_throughput.py"
    args = f" --latency {a.latency} --concurrency {' '.join(map(str, a.concurrency))} --items {' '.join(map(str, items))} --rounds {a.rounds}"
    section = "\n".join([
        "## Throughput against a local OpenAI-compatible server",
        "",
        f"Annotations per second, median of {a.rounds} rounds (which side goes first alternates). The server "
        f"(`tests/servers.py`, its own process) answers every request after {a.latency * 1000:.0f} ms with a "
        "`top_logprobs` body. *raw* = `httpx.AsyncClient` + `asyncio.Semaphore(C)` posting the exact bodies "
        "labelwise sends (pre-rendered); *labelwise* = `AnnotationRun` with the openai backend and a fresh "
        "SQLite store (prompt rendering, cache keys, budget, cache + ledger write per call, annotation write "
        "per item all included). Goal: labelwise ≥ 90% of raw.",
        "",
        tbl,
        "",
        "Per round (raw / labelwise, annotations per second): " + "; ".join(
            f"C={r['concurrency']}: " + ", ".join(f"{x:.0f}/{y:.0f}" for x, y in zip(r['raw_all'], r['lw_all']))
            for r in rows),
        "",
        f"Machine: {os.cpu_count()} CPUs (`nproc` {len(os.sched_getaffinity(0))}), {platform.processor() or platform.machine()}, "
        f"Python {platform.python_version()}, httpx {httpx.__version__}, httpcore {httpcore.__version__}, {platform.system()} {platform.release()}; "
        f"measured {time.strftime('%Y-%m-%d')}, bench wall time {wall:.0f} s, 1-min load average "
        f"{load_before:.1f} before / {os.getloadavg()[0]:.1f} after (other work on the machine skews wall-clock "
        "rates; CPU per item is the steadier figure).",
        "",
        f"Re-run: `{cmd}{args}`",
    ])
    if not a.no_write:
        write_results(section)
        print(f"\nwrote {RESULTS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
