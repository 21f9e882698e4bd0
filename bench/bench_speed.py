"""Speed of the embedded annotator: labelwise against a raw llama-cpp-python loop, retrieved
examples with and without prefix-sharing order, and `estimate` against the run it predicts.

One SST-2 validation sample, the same model and thread count throughout. Per few-shot mode:

1. ``estimate`` on a fresh project (it times the model on a few pending items, kept), then
   ``annotate`` of the rest through the engine: seconds per item and prompt tokens the model
   evaluated per item (not taken from its KV cache), and the estimate next to the real time;
2. a raw loop over exactly the prompts labelwise rendered (its tokens), in the engine's order
   (half before the labelwise run, half after, so both span the same stretch of machine time),
   with the same model file and threads: llama-cpp-python's own ``eval`` after the longest
   cached prefix (any length), first-token log-probabilities of each label, extra tokens
   evaluated one at a time. This is the floor: the model's own work and nothing else.

Modes: zero-shot; fixed 4-shot; nearest 4-shot in file order (ordering off); nearest with the
engine's prefix-sharing order; nearest with ``few_shot.order: shared_first``; nearest to the
centre of the item's cluster (``few_shot.clusters: 8``: the items of a cluster share their
examples, so the engine's order evaluates each cluster's examples once). A labelwise run
and its raw loop run back to back; the load average is recorded around every row.

    python bench/bench_speed.py --n 100 --model qwen2.5-coder-1.5b-instruct
"""
from __future__ import annotations

import argparse
import csv
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from bench_models import sst2  # noqa: E402
from results import write_section  # noqa: E402

from labelwise import Project  # noqa: E402
from labelwise.annotators.llamacpp import common_prefix  # noqa: E402
from labelwise.engine import run_order  # noqa: E402
from labelwise.estimate import estimate  # noqa: E402

MODES = ("zero-shot", "fixed-4", "nearest-4 file order", "nearest-4 sorted", "nearest-4 shared_first sorted",
         "nearest-4 8 clusters sorted")


def write_project(folder: Path, items, examples, mode: str, model: str, threads: int | None) -> Project:
    folder.mkdir(parents=True, exist_ok=True)
    for name, rows in (("data.csv", items), ("examples.csv", examples)):
        with open(folder / name, "w", newline="", encoding="utf-8") as f:
            w = csv.writer(f)
            w.writerow(["id", "text", "label"])
            w.writerows([r.id, r.fields["text"], r.gold] for r in rows)
    few = {"zero-shot": "", "fixed-4": "few_shot: {mode: fixed, k: 4, path: examples.csv}\n"}.get(
        mode, "few_shot: {mode: nearest, k: 4, path: examples.csv"
              + (", order: shared_first" if "shared_first" in mode else "")
              + (f", clusters: {mode.split()[1]}" if "clusters" in mode else "") + "}\n")
    (folder / "labelwise.yaml").write_text(
        "task:\n  kind: classification\n  text_field: text\n"
        "  instructions: Classify the sentiment of the movie review sentence.\n"
        "  labels: {positive: the sentence is positive, negative: the sentence is negative}\n"
        "data: {path: data.csv, id_field: id, label_field: label}\n" + few
        + f"annotator: {{backend: llamacpp, model: {model}"
        + (f", n_threads: {threads}" if threads else "") + "}\n", encoding="utf-8")
    return Project.open(folder)


class Spy:
    """Wraps the embedded annotator: the prompts it saw, in order, the tokens it evaluated, and
    the token ids it generated (generation only)."""

    def __init__(self, ann) -> None:
        self.ann, self.real, self.prompts, self.evaluated, self.generated = ann, ann.answer_sync, [], [], []
        self.seconds: list[float] = []  # each answer's time in the model, as the backend measured it
        ann.answer_sync = self

    def __call__(self, q):
        r = self.real(q)
        self.prompts.append(q)
        self.seconds.append(r.latency_s)
        self.evaluated.append(r.usage.prompt_tokens - r.raw.get("prompt_tokens_reused", 0))
        self.generated.append(list(r.raw.get("completion_tokens", [])))
        return r


def raw_loop(llm, prompts: list[list[int]], choices: list[list[int]]) -> tuple[float, float, list[str]]:
    """(seconds per item, tokens evaluated per item, labels) of a plain llama-cpp-python loop."""
    evaluated, labels = [], []
    t0 = time.perf_counter()
    for toks in prompts:
        lcp = common_prefix(llm.input_ids[: llm.n_tokens], toks)  # the longest cached prefix, any length
        llm.n_tokens = lcp
        llm.eval(toks[lcp:])
        evaluated.append(len(toks) - lcp)
        first = np.ctypeslib.as_array(llm._ctx.get_logits_ith(-1), shape=(llm.n_vocab(),)).astype(np.float64)
        lp0 = first - np.log(np.exp(first - first.max()).sum()) - first.max()
        best, best_lp = None, -np.inf
        for ctoks in choices:
            lp = float(lp0[ctoks[0]])
            llm.n_tokens = len(toks)
            for j in range(1, len(ctoks)):
                llm.eval([ctoks[j - 1]])
                lg = np.ctypeslib.as_array(llm._ctx.get_logits_ith(-1), shape=(llm.n_vocab(),)).astype(np.float64)
                lp += float(lg[ctoks[j]] - lg.max() - np.log(np.exp(lg - lg.max()).sum()))
            if lp > best_lp:
                best, best_lp = ctoks, lp
        labels.append(best)
        llm.n_tokens = len(toks)
    secs = time.perf_counter() - t0
    return secs / len(prompts), float(np.mean(evaluated)), labels


def busy_rows(a, items, pool) -> list[dict]:  # noqa: ANN001
    """Zero-shot with one core kept busy by a spinning process: threads left to labelwise (it
    measures the other load when the model loads) against ``--threads`` set by hand."""
    hog = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    rows = []
    try:
        time.sleep(1.0)
        for threads in (None, a.threads):
            folder = Path(a.out) / f"busy-{threads or 'auto'}-{os.getpid()}"
            p = write_project(folder, items[:a.busy_n], pool, "zero-shot", a.model, threads)
            load = os.getloadavg()[0]
            s = p.run(watch_gold=False)
            th = p.annotator.threads
            rows.append({"threads": "auto" if threads is None else str(threads), "chosen": th.n,
                         "message": th.message().split(":")[0] + (" (busy)" if th.busy else ""),
                         "s_item": s.seconds / max(1, s.annotated), "items": s.annotated,
                         "load": f"{load:.2f} / {os.getloadavg()[0]:.2f}"})
            print(rows[-1], flush=True)
            p.annotator.unload()
    finally:
        hog.kill()
        hog.wait()
    return rows


def accuracy(p: Project) -> float:
    current = p.current_annotations()
    return float(np.mean([current[r.id].label == r.gold for r in p.read_data() if r.id in current]))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=100)
    ap.add_argument("--pool", type=int, default=1000, help="SST-2 train sentences the examples come from")
    ap.add_argument("--model", default="qwen2.5-coder-1.5b-instruct")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--modes", default=",".join(MODES))
    ap.add_argument("--out", default="/tmp/labelwise-bench-speed")
    ap.add_argument("--no-write", action="store_true")
    ap.add_argument("--busy-n", type=int, default=30, help="items per busy-machine row (0: no such rows)")
    a = ap.parse_args()
    from llama_cpp import Llama

    from labelwise.annotators.catalogue import model_path
    items, pool = sst2("validation", a.n), sst2("train", a.pool, seed=5)
    from labelwise.annotators.model_thread import run_on_model_thread
    # the raw loop runs on labelwise's model thread too: a second OS thread driving llama.cpp would
    # give OpenMP a second team of workers and slow both loops down (see annotators/model_thread.py)
    raw = run_on_model_thread(lambda: Llama(model_path=str(model_path(a.model)), n_ctx=2048, n_threads=a.threads,
                                            n_threads_batch=a.threads, n_batch=512, verbose=False, logits_all=False))
    rows, first_load = [], os.getloadavg()[0]
    for mode in a.modes.split(","):
        folder = Path(a.out) / f"{mode.replace(' ', '_')}-{os.getpid()}"
        p = write_project(folder, items, pool, mode, a.model, a.threads)
        load_before = os.getloadavg()[0]
        t0 = time.perf_counter()
        e = estimate(p, calibrate=6)
        est_wall = time.perf_counter() - t0
        predicted = e["seconds_approx"] - e["calibration"]["load_s"]  # the same process: the model stays loaded
        if mode == "nearest-4 file order":
            p.annotator.reuses_prefix = False
        # the prompts the engine is about to ask, in its order; the raw loop scores the first half
        # before the labelwise run and the second half after it, so both span the same stretch of time
        plans = run_order(p.annotator, p.annotation_run().pending(p.read_data())[0])
        toks = [p.annotator._prompt_tokens(pl[1][0].messages)[1] for pl in plans]
        ctoks = [raw.tokenize(c.encode(), add_bos=False, special=False) for c in p.task.labels]
        half = len(toks) // 2
        raw.n_tokens = 0
        r1 = run_on_model_thread(raw_loop, raw, toks[:half], ctoks)
        spy = Spy(p.annotator)
        s = p.run(watch_gold=False)
        raw.n_tokens = 0
        r2 = run_on_model_thread(raw_loop, raw, toks[half:], ctoks)
        done = s.annotated
        assert [q.messages for q in spy.prompts] == [pl[1][0].messages for pl in plans]  # the same prompts, same order
        lw_item = s.seconds / max(done, 1)
        lw_eval = float(np.mean(spy.evaluated)) if done else 0.0
        raw_item = (r1[0] * half + r2[0] * (len(toks) - half)) / len(toks)
        raw_eval = (r1[1] * half + r2[1] * (len(toks) - half)) / len(toks)
        rows.append({"mode": mode, "lw": lw_item, "lw_eval": lw_eval, "raw": raw_item, "raw_eval": raw_eval,
                     "predicted": predicted, "actual": s.seconds, "items": done, "estimate_s": est_wall,
                     "load": f"{load_before:.2f} / {os.getloadavg()[0]:.2f}", "accuracy": accuracy(p)})
        print(rows[-1], flush=True)
        p.annotator.unload()
    zero = next((r for r in rows if r["mode"] == "zero-shot"), None)
    lines = ["| mode | labelwise s / item | raw loop s / item | labelwise / raw | tokens evaluated / item (labelwise, raw) "
             "| vs zero-shot (labelwise) | estimate: predicted / actual run | estimate took | accuracy | load before / after |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        vs = f"{r['lw'] / zero['lw']:.2f}x" if zero else "–"
        lines.append(f"| {r['mode']} | {r['lw']:.3f} | {r['raw']:.3f} | {r['lw'] / r['raw']:.2f} | "
                     f"{r['lw_eval']:.0f}, {r['raw_eval']:.0f} | {vs} | {r['predicted']:.0f} s / {r['actual']:.0f} s "
                     f"({(r['predicted'] - r['actual']) / r['actual']:+.0%}) | {r['estimate_s']:.1f} s | "
                     f"{r['accuracy']:.3f} | {r['load']} |")
    busy = busy_rows(a, items, pool) if a.busy_n else []
    if busy:
        lines += ["", f"Busy machine: zero-shot on {a.busy_n} of the items with a process spinning on one core "
                  "beside the model, threads left to labelwise against set by hand (the same machine, back to back).",
                  "", "| n_threads | threads taken | s / item | what labelwise said | load before / after |",
                  "|---|---|---|---|---|"]
        lines += [f"| {r['threads']} | {r['chosen']} | {r['s_item']:.3f} | {r['message']} | {r['load']} |"
                  for r in busy]
    body = (f"{a.model}, {a.threads} threads, {a.n} SST-2 validation sentences; examples from {a.pool} SST-2 train "
            f"sentences. Each labelwise row: `estimate` on a fresh project (times 6 items, kept), then the engine "
            f"labels the other {a.n - 6}; the raw loop scores exactly those prompts in the same order, the first "
            f"half just before the labelwise run and the second half just after it "
            f"(llama-cpp-python, longest cached prefix of any length). 'tokens evaluated' are prompt tokens not "
            f"taken from the KV cache; labelwise evaluates a prompt in three blocks (system message, "
            f"examples, item) and reuses whole blocks only, so answers are independent of order; the raw loop "
            f"reuses any prefix and evaluates what is new as one batch. Accuracy is on the {a.n} items (its 95% interval is about "
            f"±{1.96 * np.sqrt(0.25 / a.n):.2f}).\n\n" + "\n".join(lines)
            + f"\n\nLoad average at the start: {first_load:.2f} ({os.cpu_count()} cores). One run per row: the ratios "
              "in a row come from runs back to back on the same machine; rows further apart may differ in load.")
    if not a.no_write:
        write_section("speed", "Embedded annotator speed: labelwise vs a raw loop, prefix order, estimates",
                      body, f"python bench/bench_speed.py --n {a.n} --model {a.model}")
    else:
        print(body)


if __name__ == "__main__":
    main()
