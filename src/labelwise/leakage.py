"""Run the leakage probes of :mod:`labelwise.quality.leakage` against a project's annotator.

Probes are not task annotations, so none is stored as one. They are still paid calls, so they
go the engine's way: budget reserved before each call, every answer written to the response
cache and the ledger (a rerun replays them for free). Every prompt and response is kept in
``leakage.jsonl`` next to the ``leakage.json`` summary, so each hit can be read and checked.
"""
from __future__ import annotations

import asyncio
import json
import random
from pathlib import Path
from typing import Any, Sequence

from .annotators.base import Annotator
from .engine import AnnotationRun
from .project import Project
from .quality.leakage import build_probes, names_dataset, rate, reading, record_text, score_completion
from .types import Query, Record, Response


def sample_records(records: Sequence[Record], fields: Sequence[str], n: int, seed: int) -> list[Record]:
    """A seeded choice of ``n`` records that have text, kept in data order."""
    usable = [r for r in records if record_text(r, fields).strip()]
    if n >= len(usable):
        return list(usable)
    keep = set(random.Random(seed).sample(range(len(usable)), n))
    return [r for i, r in enumerate(usable) if i in keep]


async def _ask_all(project: Project, annotator: Annotator, probes: list[dict[str, Any]]) -> None:
    """Answer every probe into ``probe['response'|'error'|'from_cache'|'cost']`` through the
    engine (``AnnotationRun.ask``): cached answers replayed, the budget reserved before each
    paid call, each distinct query asked once."""
    by_key: dict[str, list[dict[str, Any]]] = {}
    run = AnnotationRun(task=project.task, annotator=annotator, store=project.store, budget=project.budget(),
                        price=project.price(), concurrency=project.config.annotator.concurrency)
    for p in probes:
        by_key.setdefault(run.key_of(p["query"]), []).append(p)
    try:
        keys = list(by_key)
        results = await run.ask([by_key[k][0]["query"] for k in keys])
    finally:
        await annotator.aclose()
    for k, result in zip(keys, results):
        for i, p in enumerate(by_key[k]):  # a duplicate probe shares the answer and is paid once
            dup = i > 0 and "response" in result
            p.update({**result, "cost": 0.0, "from_cache": True} if dup else result)


def _score(p: dict[str, Any], names: Sequence[str]) -> dict[str, Any] | None:
    resp: Response | None = p.get("response")
    if resp is None:
        return None
    if p["probe"] == "name":
        return {"hit": names_dataset(resp.text, names)} if names else None
    return score_completion(resp.text, p["truth"], p["prefix"])


def _row(p: dict[str, Any]) -> dict[str, Any]:
    resp: Response | None = p.get("response")
    q = p["query"].as_json()
    raw = resp.raw if resp is not None and resp.raw else {}
    return {"set": p["set"], "probe": p["probe"], "record_id": p["record_id"], "prompt": q["messages"],
            "max_tokens": q["max_tokens"], "rendered_prompt": raw.get("prompt"),
            "response": resp.text if resp is not None else None, "truth": p.get("truth"),
            "score": p.get("score"), "error": p.get("error"), "from_cache": p.get("from_cache"),
            "usage": resp.as_json(raw=False)["usage"] if resp is not None else None,
            "latency_s": resp.latency_s if resp is not None else None, "cost": p.get("cost", 0.0)}


def summarize(probes: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Rates (95% Wilson intervals) per probe for real vs control, and a reading of each."""
    out: dict[str, Any] = {}
    for metric, kind, key in (("name_hit", "name", "hit"), ("completion_exact", "completion", "exact"),
                              ("completion_near", "completion", "near")):
        sets = {}
        for which in ("real", "control"):
            scored = [p["score"] for p in probes if p["probe"] == kind and p["set"] == which and p.get("score")]
            sets[which] = rate(sum(bool(s[key]) for s in scored), len(scored))
        out[metric] = {**sets, "reading": reading(sets["real"], sets["control"])}
    return out


def probe_leakage(project: Project, n: int = 50, dataset_names: Sequence[str] = (), seed: int = 0,
                  annotator: Annotator | None = None, out_dir: Path | None = None) -> dict[str, Any]:
    """Probe ``n`` seeded records (and their shuffled controls); write leakage.jsonl/.json."""
    annotator = annotator or project.annotator
    fields = project.task.input_fields
    records = sample_records(project.load_records(), fields, n, seed)
    probes = build_probes(records, fields, seed)
    asyncio.run(_ask_all(project, annotator, probes))  # holds the project lock while it asks
    for p in probes:
        p["score"] = _score(p, dataset_names)
    out_dir = out_dir or project.config.root
    with open(out_dir / "leakage.jsonl", "w", encoding="utf-8") as f:
        for p in probes:
            f.write(json.dumps(_row(p), ensure_ascii=False) + "\n")
    summary = {"annotator": annotator.id, "records": len(records), "seed": seed,
               "dataset_names": list(dataset_names), "probes": len(probes),
               "answered": sum(p.get("response") is not None for p in probes),
               "errors": sum(p.get("error") is not None for p in probes),
               "paid_calls": sum(p.get("from_cache") is False for p in probes),
               "cost": sum(p.get("cost", 0.0) for p in probes),
               "rates": summarize(probes),
               "name_answers_real": _top_answers(probes, "real"),
               "name_answers_control": _top_answers(probes, "control")}
    (out_dir / "leakage.json").write_text(json.dumps(summary, indent=2, ensure_ascii=False), encoding="utf-8")
    return summary


def _top_answers(probes: Sequence[dict[str, Any]], which: str, k: int = 5) -> list[list[Any]]:
    """The most frequent normalised dataset-name answers: what the model thinks it sees."""
    counts: dict[str, int] = {}
    for p in probes:
        if p["probe"] == "name" and p["set"] == which and p.get("response") is not None:
            a = " ".join(p["response"].text.split())[:60]
            counts[a] = counts.get(a, 0) + 1
    return [[a, c] for a, c in sorted(counts.items(), key=lambda x: -x[1])[:k]]
