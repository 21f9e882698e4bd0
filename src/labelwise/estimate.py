"""What a run will cost before anything is spent: items, calls, tokens, seconds, money."""
from __future__ import annotations

from typing import Any

from .project import Project
from .types import Usage


def estimate(project: Project) -> dict[str, Any]:
    task, ann, store = project.task, project.annotator, project.store
    records = project.load_records()
    plans, _ = project.annotation_run().pending(records)
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
    money_bound = price.cost(Usage(bound_prompt, bound_completion)) * share_new if price else None
    money_approx = price.cost(Usage(approx_prompt, bound_completion)) * share_new if price else None
    past = store.db.execute("SELECT AVG(latency_s), COUNT(*) FROM ledger WHERE annotator_id=?", (ann.id,)).fetchone()
    per_call = past[0] if past[1] else None  # measured on this project's own calls, never assumed
    queries_per_item = len(keys) / len(pending) if pending else 1
    # an in-process model answers one call at a time; a server takes `concurrency` at once
    parallel = project.config.annotator.concurrency if ann.backend == "openai" else 1
    seconds = per_call * new_calls / parallel if per_call is not None else None
    return {
        "items": len(records), "already_annotated": len(records) - len(pending), "to_annotate": len(pending),
        "queries": len(keys), "queries_per_item": queries_per_item, "cached_queries": len(keys) - new_calls,
        "new_calls": new_calls, "prompt_tokens_approx": int(approx_prompt * share_new),
        "prompt_tokens_upper_bound": int(bound_prompt * share_new),
        "completion_tokens_upper_bound": int(bound_completion * share_new),
        "money_approx": money_approx, "money_upper_bound": money_bound,
        "seconds_approx": seconds, "seconds_basis": f"your past {past[1]} call(s)" if past[1] else
        "no calls measured yet: `labelwise annotate --limit 10` measures them",
        "budget_remaining": project.budget().remaining(),
    }
