"""What a run will cost before it starts: items, calls, tokens, seconds, money.

Counting is exact when planning is cheap. With retrieved (``nearest``) examples every item must
be embedded to build its prompt, so past ``sample`` items the counts come from a seeded random
sample of them, scaled to the whole (and say so): ``estimate`` answers in seconds, not after an
embedding pass over everything.

Time comes from a measurement, never from an assumption. The embedded model is timed on a few
pending items of this project (``calibrate`` items, run through the engine as ``annotate`` would
run them, so their answers are kept and not asked again) and the rest is predicted from the
prompt tokens it will evaluate in the run's own order (see ``_calibrate``); the model's load is
added once. Other backends are free to call but not to time here, so their time comes from
this project's past calls (none yet: unknown, and the table says how to measure it).
"""
from __future__ import annotations

import random
import time
from typing import Any, Callable

from .project import Project
from .types import Usage

SAMPLE = 300        # items planned when planning everything would embed them all
CALIBRATE = 6       # embedded model: pending items timed


def _sampled(project: Project, records: list, sample: int) -> tuple[list, float]:
    """(records to plan, scale to the whole): all of them unless their prompts need embeddings."""
    fs = project.config.few_shot
    if fs.mode != "nearest" or len(records) <= sample:
        return records, 1.0
    return random.Random(0).sample(records, sample), len(records) / sample


def _evaluated(ann: Any, plans: list) -> tuple[int, int, int]:
    """Prompt tokens the embedded model will evaluate for these plans asked in this order (its
    KV reuse replayed: exact, since answers never change what is reusable); scored queries only.
    Also, of those, the ones before each prompt's item (its system message and examples, when
    not reused from the prompt before), and how many prompts evaluated any: (total, head, heads)."""
    prompts = [(q.messages, ann._prompt_tokens(q.messages)[1]) for p in plans for q in p[1]]
    total = head_tokens = heads = 0
    for (messages, tokens), evaluated in zip(prompts, ann.evaluated_tokens(prompts)):
        total += evaluated
        item = len(tokens) - ann.block_starts(tokens, [m.role for m in messages])[-1]
        if evaluated > item:
            head_tokens += evaluated - item
            heads += 1
    return total, head_tokens, heads


def _calibrate(project: Project, plans: list, n: int, say: Callable[[str], None]) -> dict[str, Any] | None:
    """Time the embedded model on ``n`` pending items taken together from the middle of the run's
    order (so they share prompt prefixes as the run's items will), and predict the rest.

    When every query is scored (labels, grades) the model's time follows the prompt tokens it
    evaluates (bench_speed: 19-20 ms per token for qwen2.5-coder-1.5b on 2 cores, zero-shot and
    few-shot alike), so the prediction is seconds per evaluated token times the tokens the rest
    of the run will evaluate in its order: retrieved examples that consecutive prompts share are
    counted as shared. Generated answers (NER) cost what they generate: seconds per item."""
    ann = project.annotator
    if ann.backend != "llamacpp" or n <= 0 or not plans:
        return None
    from .errors import ProjectLocked
    from .engine import run_order
    order = run_order(ann, plans)
    mid = max(0, (len(order) - n) // 2)
    window, rest = order[mid:mid + n], order[:mid] + order[mid + n:]
    say(f"loading the model and timing it on {len(window)} pending item(s) (kept as annotations)...")
    t0 = time.perf_counter()
    ann.load()
    load_s = time.perf_counter() - t0
    items = [p[0] for p in window]
    try:
        project.run(items, watch_gold=False)
    except ProjectLocked:
        say("another run holds the project: the time comes from past calls instead")
        return None
    anns = project.current_annotations(items)
    lat = [anns[r.id].latency_s for r in items if r.id in anns and anns[r.id].latency_s]
    if not lat:
        return None
    threads = getattr(ann, "threads", None)
    out = {"load_s": load_s, "items": len(lat), "threads": threads.message() if threads is not None else None,
           "busy": bool(threads is not None and threads.busy)}
    if all(q.choices for p in plans for q in p[1]):
        per_token = sum(lat) / max(1, _evaluated(ann, window)[0])
        tokens, head_tokens, heads = _evaluated(ann, rest)
        out.update(per_token_s=per_token, rest_tokens=tokens, rest_s=per_token * tokens,
                   rest_head_tokens=head_tokens, rest_heads=heads)
    else:
        timed = lat[1:] or lat  # the first answer of a fresh model had no cached prefix
        out.update(per_item_s=sum(timed) / len(timed), rest_s=None)
    return out


def estimate(project: Project, sample: int = SAMPLE, calibrate: int = CALIBRATE,
             say: Callable[[str], None] = lambda s: None) -> dict[str, Any]:
    ann, store = project.annotator, project.store
    records = project.load_records()
    planned, scale = _sampled(project, records, sample)
    if scale > 1:
        say(f"planning a random sample of {len(planned)} of {len(records)} items (retrieved examples: "
            "every prompt needs its item embedded)...")
    plans, _ = project.annotation_run().pending(planned)
    pending = [p[0] for p in plans]
    keys, bound_prompt, bound_completion, approx_prompt = [], 0, 0, 0
    for _, queries, qkeys, _ in plans:
        keys += qkeys
        for q in queries:
            bound = ann.max_usage(q)
            bound_prompt += bound.prompt_tokens
            bound_completion += bound.completion_tokens
            approx_prompt += sum(len(m.content) for m in q.messages) // 4 + 8 * len(q.messages)
    cached = store.cache_get_many(keys)
    new_calls = len(set(keys) - set(cached))
    share_new = new_calls / len(keys) if keys else 0.0
    price = project.price()
    money_bound = price.cost(Usage(bound_prompt, bound_completion)) * share_new * scale if price else None
    money_approx = price.cost(Usage(approx_prompt, bound_completion)) * share_new * scale if price else None
    to_do = round(len(pending) * scale)
    calls_to_make = round(new_calls * scale)
    measured = _calibrate(project, plans, calibrate, say)
    already = len(records) - to_do
    if measured is not None:
        done_now = measured["items"]
        per_item_calls = new_calls / len(pending) if pending else 1.0
        left = max(0, to_do - done_now)
        if measured["rest_s"] is not None:  # scored: by the prompt tokens the run will evaluate, in its order
            grow = left / max(1, len(pending) - done_now)  # the whole run's rest over the sample's
            tokens = measured["rest_tokens"] * grow
            clusters = project.config.few_shot.clusters
            if clusters and scale > 1 and measured["rest_heads"]:
                # a cluster's examples are evaluated once for all its items: in the whole run
                # there are about as many heads as clusters, not `grow` times the sample's
                heads_grow = min(grow, max(1.0, clusters / measured["rest_heads"]))
                tokens -= measured["rest_head_tokens"] * (grow - heads_grow)
            measured["predicted_tokens"] = tokens
            seconds = measured["load_s"] + measured["per_token_s"] * tokens
            how = (f"{measured['per_token_s'] * 1000:.1f} ms per evaluated prompt token x "
                   f"{tokens / max(1, left):.0f} tokens per item")
        else:
            seconds = measured["load_s"] + measured["per_item_s"] * left
            how = f"{measured['per_item_s']:.2f} s per item"
        basis = (f"measured now on {done_now} item(s): {how}"
                 f"{f' ({per_item_calls:.1f} calls each)' if per_item_calls > 1.01 else ''} + "
                 f"{measured['load_s']:.1f} s to load; {measured['threads']}")
        to_do, calls_to_make = left, max(0, calls_to_make - round(done_now * per_item_calls))
        already += done_now
    else:
        past = store.spent_by_annotator().get(ann.id, {"calls": 0, "seconds": 0.0})
        n_past = int(past["calls"])
        per_call = past["seconds"] / n_past if n_past else None  # this project's own calls, never assumed
        # an in-process model answers one call at a time; a server takes `concurrency` at once
        parallel = project.config.annotator.concurrency if ann.backend == "openai" else 1
        seconds = per_call * calls_to_make / parallel if per_call is not None else None
        basis = (f"your past {n_past} call(s)" if n_past else
                 "no calls measured yet: `labelwise annotate --limit 10` measures them")
    return {
        "items": len(records), "already_annotated": already,
        "to_annotate": to_do, "sampled": len(planned) if scale > 1 else None,
        "queries": round(len(keys) * scale), "queries_per_item": len(keys) / len(pending) if pending else 1,
        "cached_queries": round((len(keys) - new_calls) * scale), "new_calls": calls_to_make,
        "prompt_tokens_approx": int(approx_prompt * share_new * scale),
        "prompt_tokens_upper_bound": int(bound_prompt * share_new * scale),
        "completion_tokens_upper_bound": int(bound_completion * share_new * scale),
        "money_approx": money_approx, "money_upper_bound": money_bound,
        "seconds_approx": seconds, "seconds_basis": basis, "calibration": measured,
        "budget_remaining": project.budget().remaining(),
    }
