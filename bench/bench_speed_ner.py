"""Speed of the embedded annotator on named entities: labelwise against a raw llama-cpp-python loop
that generates from exactly the prompts labelwise rendered (issue 16's NER rows).

WNUT-17 test sentences (English tweets), the same model file and threads on both sides. The
labelwise side is `annotate` through the engine (rendering, cache keys, the store, greedy decoding
with each token's log-probability, mention alignment, token confidence); the raw side is the
floor: llama-cpp-python's own ``eval`` after the longest cached prefix (any length), then greedy
decoding token by token from the logits until end of generation or the same ``max_tokens``, and
nothing else. Half of the raw loop runs just before the labelwise run and half just after, so both
span the same stretch of machine time. 'same output' counts items whose generated token ids are
identical on both sides (they differ only where the KV-cache reuse differs: labelwise reuses
message-aligned blocks, the raw loop any prefix). As a sentence's time is mostly its generated
tokens, two outputs of different lengths are not the same work: the figure that compares like
with like is the ratio on the items with identical output (the same tokens generated; prompt
tokens evaluated may differ by a few, see the tokens column), summed per side; the run-level
ratio (engine, store and all) is beside it.

Re-run: ``.venv/bin/python bench/bench_speed_ner.py --n 40`` (``--no-write`` prints only).
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from bench_ner import make_project, rows  # noqa: E402
from bench_speed import Spy  # noqa: E402
from results import write_section  # noqa: E402

from labelwise.annotators.llamacpp import common_prefix  # noqa: E402
from labelwise.engine import run_order  # noqa: E402


def raw_generate(llm, prompts: list[list[int]], max_tokens: list[int]) -> tuple[list[float], list[int], list[list[int]]]:
    """Per item: (seconds, prompt tokens evaluated, generated ids) of a plain greedy loop."""
    from llama_cpp.llama_cpp import llama_vocab_is_eog
    evaluated, outs, seconds = [], [], []
    vocab = llm._model.vocab
    for toks, cap in zip(prompts, max_tokens):
        t0 = time.perf_counter()
        lcp = common_prefix(llm.input_ids[: llm.n_tokens], toks)
        if lcp == len(toks):  # the last prompt token must be evaluated to get its logits
            lcp -= 1
        llm.n_tokens = lcp
        llm.eval(toks[lcp:])
        evaluated.append(len(toks) - lcp)
        out = []
        for _ in range(cap):
            logits = np.ctypeslib.as_array(llm._ctx.get_logits_ith(-1), shape=(llm.n_vocab(),))
            tok = int(np.argmax(logits))
            if llama_vocab_is_eog(vocab, tok):
                break
            out.append(tok)
            llm.eval([tok])
        outs.append(out)
        llm.n_tokens = len(toks)
        seconds.append(time.perf_counter() - t0)
    return seconds, evaluated, outs


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=40)
    ap.add_argument("--model", default="qwen2.5-coder-1.5b-instruct")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--modes", default="zero-shot,fixed-4")
    ap.add_argument("--out", default="/tmp/labelwise-bench-speed-ner")
    ap.add_argument("--no-write", action="store_true")
    a = ap.parse_args()
    from llama_cpp import Llama

    from labelwise.annotators.catalogue import model_path
    data = rows("wnut17", "test", a.n)
    examples = rows("wnut17", "train", 40, seed=3)
    from labelwise.annotators.model_thread import run_on_model_thread
    # the raw loop runs on labelwise's model thread too: a second OS thread driving llama.cpp would
    # give OpenMP a second team of workers and slow both loops down (see annotators/model_thread.py)
    raw = run_on_model_thread(lambda: Llama(model_path=str(model_path(a.model)), n_ctx=4096, n_threads=a.threads,
                                            n_threads_batch=a.threads, n_batch=512, verbose=False, logits_all=False))
    out_rows = []
    for mode in a.modes.split(","):
        few, k = ("none", 0) if mode == "zero-shot" else ("fixed", int(mode.split("-")[1]))
        folder = Path(a.out) / f"{mode}-{os.getpid()}"
        p = make_project(folder, "wnut17", data, examples, few, max(k, 1), a.model)
        cfg = folder / "labelwise.yaml"
        cfg.write_text(cfg.read_text().replace("  n_ctx: 4096\n", f"  n_ctx: 4096\n  n_threads: {a.threads}\n"))
        p = type(p).open(folder)
        load_before = os.getloadavg()[0]
        plans = run_order(p.annotator, p.annotation_run().pending(p.read_data())[0])
        toks = [p.annotator._prompt_tokens(pl[1][0].messages)[1] for pl in plans]
        caps = [pl[1][0].max_tokens for pl in plans]
        half = len(toks) // 2
        raw.n_tokens = 0
        r1 = run_on_model_thread(raw_generate, raw, toks[:half], caps[:half])
        spy = Spy(p.annotator)
        s = p.run(watch_gold=False)
        raw.n_tokens = 0
        r2 = run_on_model_thread(raw_generate, raw, toks[half:], caps[half:])
        assert [q.messages for q in spy.prompts] == [pl[1][0].messages for pl in plans]
        n = len(toks)
        raw_s, raw_ev, raw_out = r1[0] + r2[0], r1[1] + r2[1], r1[2] + r2[2]
        same = [i for i, (x, y) in enumerate(zip(spy.generated, raw_out)) if x == y]  # identical generated ids
        out_rows.append({"mode": mode, "lw": s.seconds / max(s.annotated, 1), "raw": float(np.mean(raw_s)),
                         "lw_eval": float(np.mean(spy.evaluated)), "raw_eval": float(np.mean(raw_ev)),
                         "gen": float(np.mean([len(g) for g in spy.generated])),
                         "raw_gen": float(np.mean([len(g) for g in raw_out])),
                         "same": len(same), "n": n,
                         "same_ratio": (sum(spy.seconds[i] for i in same) / sum(raw_s[i] for i in same)) if same else None,
                         "ms_token": 1000 * sum(spy.seconds) / max(sum(len(g) for g in spy.generated), 1),
                         "raw_ms_token": 1000 * sum(raw_s) / max(sum(len(g) for g in raw_out), 1),
                         "load": f"{load_before:.2f} / {os.getloadavg()[0]:.2f}"})
        print(out_rows[-1], flush=True)
        p.annotator.unload()
    lines = ["| prompt | labelwise s / sentence (run) | raw loop s / sentence | run / raw | prompt tokens evaluated "
             "(labelwise, raw) | tokens generated (labelwise, raw) | ms per generated token (labelwise, raw) | "
             "same output | labelwise / raw on the same-output items | load before / after |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for r in out_rows:
        same_ratio = "–" if r["same_ratio"] is None else f"{r['same_ratio']:.3f}"
        lines.append(f"| {r['mode']} | {r['lw']:.2f} | {r['raw']:.2f} | {r['lw'] / r['raw']:.2f} | "
                     f"{r['lw_eval']:.0f}, {r['raw_eval']:.0f} | {r['gen']:.0f}, {r['raw_gen']:.0f} | "
                     f"{r['ms_token']:.0f}, {r['raw_ms_token']:.0f} | {r['same']} of {r['n']} | {same_ratio} | "
                     f"{r['load']} |")
    body = (f"{a.model}, {a.threads} threads, {a.n} WNUT-17 test sentences; fixed examples from WNUT-17 train. "
            "One run per row, the raw loop split around the labelwise run (see the script's docstring).\n\n"
            + "\n".join(lines))
    if a.no_write:
        print(body)
    else:
        write_section("speed-ner", "Embedded annotator speed on NER: labelwise vs a raw generation loop", body,
                      f"python bench/bench_speed_ner.py --n {a.n} --model {a.model}")


if __name__ == "__main__":
    main()
