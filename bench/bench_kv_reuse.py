"""The cost of deterministic KV-cache reuse in the embedded backend.

The embedded backend reuses the cached prompt prefix only at block starts (see the backend's
docstring), so an answer depends on its prompt alone. This bench labels the same
SST-2 sentences with the same 4-shot prompts under each way of evaluating a prompt, twice: once
in order (the KV cache reused across items) and once with the cache cleared before each item
(the reference: what the same prompt gives in a fresh context, evaluated the same way). It
reports seconds per item of both, and how many items' choice log-probabilities / labels differ:

- ``any prefix``: the first behaviour, reuse of the longest cached prefix of any length;
- ``fixed 32-token blocks``: the second, blocks at 0, 32, 64, ... (reuse up to a multiple of 32);
- ``message blocks``: the default now, a block per system or user message (see the backend's
  docstring): reuse of exactly the messages two prompts share, one weights pass per block.

A different block size is a different computation (other batch shapes round differently), so
each mode is compared with its own fresh reference; the modes' speeds are comparable directly.

Needs ../shared/datasets and the model (pulled from its packages)."""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from bench_models import sst2  # noqa: E402  (the same SST-2 sample and label names)
from results import write_section  # noqa: E402

import labelwise.annotators.llamacpp as lc  # noqa: E402
from labelwise.annotators.pull import pull  # noqa: E402
from labelwise.config import AnnotatorConfig, TaskConfig  # noqa: E402
from labelwise.fewshot import FewShot  # noqa: E402
from labelwise.tasks import make_task  # noqa: E402

def any_prefix(self, tokens, roles=None):  # the previous _logits_after: the longest cached prefix, one batch
    llm = self._llm
    lcp = lc.common_prefix(llm.input_ids[: llm.n_tokens], tokens)
    llm.n_tokens = lcp
    llm.eval(tokens[lcp:])
    self._starts = frozenset()
    return self._last_logits(), lcp


def label(resp):
    return max(resp.choice_logprobs, key=resp.choice_logprobs.get)


def run(ann, queries, mode, fresh=False):
    """(seconds per item, choice log-probs per item) with the KV reuse of ``mode``; ``fresh``
    clears the cache before every item."""
    orig_logits, orig_starts = lc.LlamaCppAnnotator._logits_after, lc.LlamaCppAnnotator.block_starts
    if mode == "any prefix":
        lc.LlamaCppAnnotator._logits_after = any_prefix
    elif mode == "fixed 32-token blocks":
        lc.LlamaCppAnnotator.block_starts = lambda self, tokens, roles=None: list(range(0, len(tokens), 32))
    out = []
    t0 = time.perf_counter()
    try:
        for q in queries:
            if fresh:
                ann._llm.n_tokens = 0
                ann._starts = frozenset()
            out.append(ann.answer_sync(q).choice_logprobs)
    finally:
        lc.LlamaCppAnnotator._logits_after, lc.LlamaCppAnnotator.block_starts = orig_logits, orig_starts
    return (time.perf_counter() - t0) / len(queries), out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--n", type=int, default=100)
    ap.add_argument("--model", default="qwen2.5-coder-1.5b-instruct")
    ap.add_argument("--shots", type=int, default=4)
    args = ap.parse_args()
    pull(args.model)
    task = make_task(TaskConfig(kind="classification", instructions="Classify the sentiment of the movie review sentence.",
                                labels={"positive": "", "negative": ""}))
    fs = FewShot("random", sst2("train", 200), ("text",), k=args.shots, balanced=True, seed=1)
    recs = sst2("validation", args.n)
    queries = [task.queries(r, fs.for_record(r))[0] for r in recs]  # per-item examples: prefixes of many lengths
    ann = lc.LlamaCppAnnotator(AnnotatorConfig(backend="llamacpp", model=args.model, n_ctx=2048, n_threads=2))
    ann.answer_sync(queries[0])  # load the model outside the timings
    load = os.getloadavg()[0]
    rows = []
    for mode in ("any prefix", "fixed 32-token blocks", "message blocks"):
        ref_s, ref = run(ann, queries, mode, fresh=True)
        secs, got = run(ann, queries, mode)
        diff = [max(abs(g[c] - r[c]) for c in r) for g, r in zip(got, ref)]
        flips = sum(max(g, key=g.get) != max(r, key=r.get) for g, r in zip(got, ref))
        rows.append((mode, secs, ref_s, sum(d > 0 for d in diff), flips, float(np.max(diff))))
    body = [f"{args.model}, {args.n} SST-2 validation sentences, {args.shots} random label-balanced examples "
            "per item (so consecutive prompts share prefixes of many lengths), 2 threads. Differences are "
            "against the same prompt evaluated in a fresh context.", "",
            "| KV reuse | s / item, in order | s / item, fresh context each | items whose scores differ from "
            "fresh | labels that differ | max abs diff (nats) |",
            "|---|---|---|---|---|---|"]
    body += [f"| {m} | {s:.3f} | {r:.3f} | {d} of {args.n} | {f} | {x:.4f} |" for m, s, r, d, f, x in rows]
    body += ["", f"Load average before / after: {load:.2f} / {os.getloadavg()[0]:.2f} (2 cores). The default is message blocks. With n={args.n}, a label flip rate below 1/{args.n} cannot be "
             "told from zero; the score differences show whether the answer depends on the items before it."]
    write_section("kv-reuse", "Embedded backend: deterministic KV-cache reuse", "\n".join(body),
                  f"python bench/bench_kv_reuse.py --n {args.n} --model {args.model}")


if __name__ == "__main__":
    main()
