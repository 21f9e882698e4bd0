"""Annotations per second of labelwise against a local OpenAI-compatible server with a fixed
latency, next to two plain clients making the same calls in the same run. Goal: labelwise >= 90%
of the baseline, on rows where the baseline itself gets near the ceiling.

The server (tests/servers.py, its own process so it does not share the client's GIL) answers
every chat request after a fixed latency with a ``top_logprobs`` body, concurrently. With C
requests in flight the most any client can get is C / latency per second (the *ceiling*).

* baseline: a plain asyncio client: C keep-alive connections (``asyncio.open_connection``), each
  posting the exact request bodies labelwise sends (rendered once, before the clock starts; JSON
  encoded inside the clock), reading the Content-Length answer, parsing its JSON and reading its
  first token's top_logprobs. No HTTP library, so it measures what the server and the machine
  allow; the ratio labelwise / baseline is printed only where the baseline reaches at least
  ``--min-baseline`` (default 50%) of the ceiling -- below that both sides are bottlenecked by
  the machine (other work, or the server sharing the cores) and a ratio would say nothing.
* httpx: the same bodies through one httpx.AsyncClient limited to C connections under an
  asyncio.Semaphore(C) -- the HTTP library the openai backend uses, shown so that its own cost is
  visible (not the baseline: at C=64 it was far from the ceiling on 2 cores).
* labelwise: a real ``AnnotationRun`` with the openai backend and a fresh SQLite store on a temp
  file, so prompt rendering, cache keys, budget reservations, the cache + ledger write per call
  and the annotation write per item are all inside the measured time.

Each (concurrency, side) pair is measured ``--rounds`` times (the order of the sides rotates); the
median counts. The server process's CPU time per item is read from /proc where it can be.
Re-run: ``.venv/bin/python bench/bench_throughput.py`` (``--help`` for options;
``--print-only`` leaves bench/RESULTS.md alone).
"""
from __future__ import annotations

import argparse
import asyncio
import cProfile
import json
import os
import platform
import pstats
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # for tests.servers
sys.path.insert(0, str(ROOT / "bench"))  # for results

import httpcore  # noqa: E402
import httpx  # noqa: E402

from labelwise.annotators.base import make_annotator  # noqa: E402
from labelwise.config import AnnotatorConfig, TaskConfig  # noqa: E402
from labelwise.cost import Budget  # noqa: E402
from labelwise.engine import AnnotationRun  # noqa: E402
from labelwise.store import Store  # noqa: E402
from labelwise.tasks import make_task  # noqa: E402
from labelwise.types import Record  # noqa: E402
from results import write_section  # noqa: E402
from tests.servers import spawn_fault_server  # noqa: E402

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


async def socket_client(url: str, bodies: list[dict[str, Any]], concurrency: int) -> tuple[float, float]:
    """The baseline: C keep-alive connections, plain asyncio streams, HTTP/1.1 by hand.

    Returns wall seconds and this process's CPU seconds for all the calls."""
    u = httpx.URL(url)
    host, port, path = u.host, u.port or 80, u.path.rstrip("/") + "/chat/completions"
    queue = iter(bodies)  # workers take the next body; one event loop, so no lock is needed
    got: list[int] = []

    async def worker() -> None:
        reader, writer = await asyncio.open_connection(host, port)
        try:
            for body in queue:
                data = json.dumps(body).encode()
                writer.write(f"POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: application/json\r\n"
                             f"Content-Length: {len(data)}\r\n\r\n".encode("latin-1") + data)
                await writer.drain()
                head = await reader.readuntil(b"\r\n\r\n")
                status = int(head.split(b" ", 2)[1])
                length = next(int(line.split(b":", 1)[1]) for line in head.split(b"\r\n")
                              if line.lower().startswith(b"content-length:"))
                answer = await reader.readexactly(length)
                if status != 200:
                    raise RuntimeError(f"server answered {status}: {answer[:200]!r}")
                got.append(len(json.loads(answer)["choices"][0]["logprobs"]["content"][0]["top_logprobs"]))
        finally:
            writer.close()

    t0, c0 = time.perf_counter(), time.process_time()
    await asyncio.gather(*[worker() for _ in range(min(concurrency, len(bodies)))])
    elapsed, cpu = time.perf_counter() - t0, time.process_time() - c0
    assert len(got) == len(bodies) and all(got)
    return elapsed, cpu


async def httpx_client(url: str, bodies: list[dict[str, Any]], concurrency: int) -> tuple[float, float]:
    """The same calls through httpx.AsyncClient (the openai backend's HTTP library)."""
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


def children_cpu() -> float | None:
    """CPU seconds (user + system) so far of this process's live children -- the server -- or None."""
    try:
        tick = os.sysconf("SC_CLK_TCK")
        pids = {int(p) for t in os.listdir("/proc/self/task")
                for p in open(f"/proc/self/task/{t}/children").read().split()}
        total = 0.0
        for pid in pids:
            fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / tick  # utime, stime
        return total if pids else None
    except (OSError, ValueError, IndexError):
        return None


SIDES = ("base", "httpx", "lw")


def measure(url: str, concurrency: int, n: int, rounds: int, tmp: Path) -> dict[str, Any]:
    rates: dict[str, list[float]] = {k: [] for k in SIDES}
    cpu: dict[str, list[float]] = {k: [] for k in SIDES}
    server: dict[str, list[float]] = {k: [] for k in SIDES}
    for k in range(rounds):
        recs = make_records(n, f"c{concurrency}r{k}")
        bodies = payloads(recs)
        go = {"base": lambda: socket_client(url, bodies, concurrency),
              "httpx": lambda: httpx_client(url, bodies, concurrency),
              "lw": lambda: labelwise_run(url, recs, concurrency, tmp / f"c{concurrency}-r{k}.db")}
        for side in SIDES[k % 3:] + SIDES[:k % 3]:  # rotate who goes first
            s0 = children_cpu()
            wall, c = asyncio.run(go[side]())
            s1 = children_cpu()
            rates[side].append(n / wall)
            cpu[side].append(c / n * 1000)
            if s0 is not None and s1 is not None:
                server[side].append(s1 - s0)
        print(f"  c={concurrency} round {k + 1}: " + ", ".join(
            f"{side} {rates[side][-1]:.0f}/s ({cpu[side][-1]:.2f} ms CPU/item)" for side in SIDES)
            + f", load {os.getloadavg()[0]:.1f}", flush=True)
    med = {side: statistics.median(rates[side]) for side in SIDES}
    return {"concurrency": concurrency, "items": n, **med, "ratio": med["lw"] / med["base"],
            "cpu": {side: statistics.median(cpu[side]) for side in SIDES},
            # summed over rounds: /proc counts whole clock ticks (10 ms), too coarse for one round
            "server": {side: (sum(v), n * len(v)) if v else None for side, v in server.items()},
            "all": rates}


def server_cell(sv: tuple[float, int] | None) -> str:
    if sv is None:
        return "–"
    seconds, items = sv
    if seconds < 0.05:  # under 5 clock ticks
        return f"< {0.05 / items * 1000:.2f} ms"
    return f"{seconds / items * 1000:.2f} ms"


def table(rows: list[dict[str, Any]], latency: float, min_baseline: float) -> str:
    out = ["| concurrency | items/round | ceiling (C / latency) | baseline: asyncio sockets (of ceiling) "
           "| httpx client | labelwise | labelwise / baseline | client CPU per item: baseline / httpx / labelwise "
           "| server CPU per item (baseline run) |",
           "|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        ceiling = r["concurrency"] / latency
        share = r["base"] / ceiling
        ratio = (f"**{r['ratio']:.0%}**" if share >= min_baseline
                 else f"– (baseline bottlenecked, {share:.0%} of ceiling)")
        c, sv = r["cpu"], server_cell(r["server"]["base"])
        out.append(f"| {r['concurrency']} | {r['items']} | {ceiling:.0f}/s | {r['base']:.0f}/s ({share:.0%}) | "
                   f"{r['httpx']:.0f}/s | {r['lw']:.0f}/s | {ratio} | "
                   f"{c['base']:.2f} ms / {c['httpx']:.2f} ms / {c['lw']:.2f} ms | "
                   f"{sv} |")
    return "\n".join(out)


def goal_lines(rows: list[dict[str, Any]], latency: float, min_baseline: float) -> str:
    """The goal per row, and where the httpx client alone is far below the baseline, say so."""
    fair = [r for r in rows if r["base"] / (r["concurrency"] / latency) >= min_baseline]
    out = ""
    if fair:
        out += "Goal (labelwise ≥ 90% of baseline): " + ", ".join(
            f"C={r['concurrency']} {'met' if r['ratio'] >= 0.9 else 'not met'} ({r['ratio']:.0%})" for r in fair) + ".\n\n"
    slow = [r for r in fair if r["httpx"] < 0.5 * r["base"]]
    if slow:
        out += " ".join(
            f"At C={r['concurrency']} the httpx client alone reaches {r['httpx'] / r['base']:.0%} of the baseline "
            f"({r['cpu']['httpx']:.2f} ms client CPU per item against {r['cpu']['base']:.2f} ms)" for r in slow) + \
            ": there the limit labelwise hits is the cost of its HTTP client, not the server.\n\n"
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--latency", type=float, default=0.05, help="server latency per request, seconds")
    ap.add_argument("--concurrency", type=int, nargs="+", default=[16, 64])
    ap.add_argument("--items", type=int, nargs="+", default=[500, 1000], help="items per round, per concurrency")
    ap.add_argument("--rounds", type=int, default=6)
    ap.add_argument("--min-baseline", type=float, default=0.5,
                    help="print the labelwise / baseline ratio only where the baseline reaches this share of "
                         "the ceiling (default 0.5)")
    ap.add_argument("--print-only", "--no-write", dest="print_only", action="store_true",
                    help="print the section only; leave bench/RESULTS.md alone (for smoke runs)")
    ap.add_argument("--profile", type=Path, help="cProfile one labelwise run at the last concurrency into this file")
    a = ap.parse_args()
    items = a.items if len(a.items) == len(a.concurrency) else [a.items[0]] * len(a.concurrency)
    t_start = time.perf_counter()
    load_before = os.getloadavg()[0]
    rows = []
    with spawn_fault_server(a.latency) as url, tempfile.TemporaryDirectory(prefix="lw-bench-") as tmpd:
        tmp = Path(tmpd)
        # warm up every path (imports, template compilation, connection setup)
        asyncio.run(socket_client(url, payloads(make_records(64, "warm")), 16))
        asyncio.run(httpx_client(url, payloads(make_records(64, "warm")), 16))
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
    tbl = table(rows, a.latency, a.min_baseline)
    args = (f" --latency {a.latency} --concurrency {' '.join(map(str, a.concurrency))} "
            f"--items {' '.join(map(str, items))} --rounds {a.rounds}"
            + (f" --min-baseline {a.min_baseline}" if a.min_baseline != 0.5 else ""))
    bottlenecked = [r for r in rows if r["base"] / (r["concurrency"] / a.latency) < a.min_baseline]
    body = "\n".join([
        f"Annotations per second, median of {a.rounds} rounds (the order of the three clients rotates). The "
        f"server (`tests/servers.py`, its own process) answers every request after {a.latency * 1000:.0f} ms with "
        "a `top_logprobs` body, so with C requests in flight no client can exceed C / latency (the *ceiling*). "
        "*baseline* = a plain asyncio client with C keep-alive connections (`asyncio.open_connection`, HTTP/1.1 "
        "written by hand, no HTTP library) posting the exact bodies labelwise sends (pre-rendered, JSON-encoded "
        "and the answer parsed inside the clock); *httpx client* = the same bodies through `httpx.AsyncClient` "
        "(C connections) + `asyncio.Semaphore(C)`, the HTTP library the openai backend uses, shown for its own "
        "cost; *labelwise* = `AnnotationRun` with the openai backend and a fresh SQLite store (prompt rendering, "
        "cache keys, budget, cache + ledger write per call, annotation write per item all included). "
        f"Goal: labelwise ≥ 90% of the baseline. The ratio is given only where the baseline reaches "
        f"{a.min_baseline:.0%} of the ceiling: below that the baseline itself is held back (the machine's cores, "
        "shared by client, server and other work), so labelwise and baseline would both be measuring the "
        "bottleneck and their ratio would mean nothing.",
        "",
        tbl,
        "",
        (("Bottlenecked rows: " + ", ".join(
            f"C={r['concurrency']} (baseline {r['base']:.0f}/s of a {r['concurrency'] / a.latency:.0f}/s ceiling)"
            for r in bottlenecked) + " — no fair baseline was reached on this machine, so no ratio is claimed "
            "there; the rates are still what each client got.\n\n") if bottlenecked else "")
        + goal_lines(rows, a.latency, a.min_baseline)
        + "Per round (baseline / httpx / labelwise, annotations per second): " + "; ".join(
            f"C={r['concurrency']}: " + ", ".join(f"{x:.0f}/{y:.0f}/{z:.0f}" for x, y, z in
                                                  zip(r['all']['base'], r['all']['httpx'], r['all']['lw']))
            for r in rows),
        "",
        f"{os.cpu_count()} CPUs (`nproc` {len(os.sched_getaffinity(0))}), {platform.processor() or platform.machine()}, "
        f"httpx {httpx.__version__}, httpcore {httpcore.__version__}, {platform.system()} {platform.release()}; "
        f"bench wall time {wall:.0f} s, 1-min load average "
        f"{load_before:.1f} before / {os.getloadavg()[0]:.1f} after (other work on the machine skews wall-clock "
        "rates; CPU per item is the steadier figure).",
    ])
    title = "Throughput against a local OpenAI-compatible server"
    command = ".venv/bin/python bench/bench_throughput.py" + args
    if a.print_only:
        print(f"\n## {title}\n\nRe-run: `{command}`\n\n{body}\n\n(--print-only: bench/RESULTS.md not written)")
    else:
        write_section("throughput", title, body, command)


if __name__ == "__main__":
    main()
