"""What `labelwise quality` reports, as one JSON-ready dict: gold accuracy per annotator (exact
bounds), agreement between annotators and repeats, suspect labels, label and length statistics,
duplicates, accuracy per domain, and a datasheet filled from the project's own config and
ledger (each answer says where it comes from). Nothing here asks a model.
"""
from __future__ import annotations

from collections import Counter, defaultdict
from datetime import datetime, timezone
from typing import Any

import numpy as np

from .. import __version__
from .agreement import agreement_report, finite_or_none
from .gold_watch import accuracy_bounds, same_label


def _latest_by_annotator(project: Any, record_ids: set[str]) -> dict[str, dict[str, Any]]:
    """annotator (with ``#k`` for repeat k > 0) -> {record id: label or None for an error}, from
    the annotations made with the current prompt template."""
    th = project.task.template_hash
    out: dict[str, dict[str, Any]] = defaultdict(dict)
    for a in project.store.annotations(template_hash=th, repeat=None):
        if a.record_id in record_ids:
            name = a.annotator_id + (f"#{a.repeat}" if a.repeat else "")
            out[name][a.record_id] = None if a.error else a.label
    return dict(out)


def gold_accuracy(project: Any, ratings: dict[str, dict[str, Any]], gold: dict[str, Any], delta: float) -> list[dict]:
    multi = project.task.kind == "multilabel"
    rows = []
    for name, labels in ratings.items():
        scored = [rid for rid in labels if rid in gold]
        if not scored:
            continue
        right = sum(labels[rid] is not None and same_label(labels[rid], gold[rid], multi) for rid in scored)
        lo, hi = accuracy_bounds(right, len(scored), delta)
        rows.append({"annotator": name, "gold_items": len(scored), "correct": right, "accuracy": right / len(scored),
                     "lower": lo, "upper": hi})
    return rows


def suspects(project: Any, records: list, labels: dict[str, Any], top: int) -> dict[str, Any]:
    """cleanlab's suspects among the current labels, from out-of-fold small-model probabilities."""
    from ..loop_models import rounds_for, single_label_model
    from ..models.base import make_small_model
    from .label_issues import label_issues, out_of_fold_probs
    if project.task.kind == "ner":
        return token_suspects(project, records, labels, top)
    if project.task.kind not in ("classification", "pair"):
        return {"skipped": f"label issues are computed for single-label tasks and NER; this is {project.task.kind}"}
    usable = [r for r in records if labels.get(r.id) is not None]
    classes = list(project.task.labels)
    kind = rounds_for(project.task)
    name, params = single_label_model(project.task)
    try:
        probs = out_of_fold_probs(kind, lambda: make_small_model(name, store=project.store, **params), usable,
                                  [labels[r.id] for r in usable], classes)
    except ValueError as e:
        return {"skipped": str(e)}
    found = label_issues([labels[r.id] for r in usable], probs, classes)
    text = project.task.input_fields
    items = [{"record_id": usable[f["index"]].id, "label": f["label"], "suggested": f["suggested"],
              "quality": f["quality"], "gold": usable[f["index"]].gold,
              "text": " | ".join(str(usable[f["index"]].fields[k]) for k in text)[:300]} for f in found]
    with_gold = [s for s in items if s["gold"] is not None]
    return {"model": name, "checked": len(usable), "flagged": len(items), "items": items[:top],
            "flagged_with_gold": len(with_gold),
            "flagged_that_are_wrong": sum(s["label"] != s["gold"] for s in with_gold)}


def token_suspects(project: Any, records: list, labels: dict[str, Any], top: int) -> dict[str, Any]:
    """NER: cleanlab's token-level suspects among the current tags, from out-of-fold marginals
    of the CRF tagger (the loop's default small model for NER)."""
    from ..models.base import make_small_model
    from ..models.crf import OUTSIDE
    from .label_issues import out_of_fold_marginals, token_label_issues
    usable = [r for r in records if labels.get(r.id) is not None]
    sents = [project.task.tokens(r) for r in usable]
    tags = [list(labels[r.id]) for r in usable]
    names = [OUTSIDE] + [f"{p}-{t}" for t in project.task.labels for p in ("B", "I")]
    try:
        marg = out_of_fold_marginals(lambda: make_small_model("crf", store=project.store), sents, tags, names)
    except ValueError as e:
        return {"skipped": str(e)}
    found = token_label_issues(tags, marg, names, top=max(top, 1))
    n_flagged = len(token_label_issues(tags, marg, names))
    items = []
    for f in found:
        r = usable[f["sentence"]]
        toks = sents[f["sentence"]]
        t = f["token"]
        items.append({"record_id": r.id, "token_index": t, "token": toks[t], "label": f["tag"],
                      "suggested": f["suggested"], "quality": f["quality"], "sentence_quality": f["sentence_quality"],
                      "flagged": f["flagged"],
                      "gold": r.gold[t] if r.gold is not None and t < len(r.gold) else None,
                      "text": " ".join(toks[max(0, t - 6):t]) + f" [{toks[t]}] " + " ".join(toks[t + 1:t + 7])})
    with_gold = [s for s in items if s["gold"] is not None and s["flagged"]]
    listed_gold = [s for s in items if s["gold"] is not None]
    return {"model": "crf", "level": "token", "checked": sum(len(x) for x in sents), "sentences": len(sents),
            "flagged": n_flagged, "items": items[:top], "flagged_with_gold": len(with_gold),
            "flagged_that_are_wrong": sum(s["label"] != s["gold"] for s in with_gold),
            "listed_with_gold": len(listed_gold), "listed_that_are_wrong": sum(s["label"] != s["gold"]
                                                                               for s in listed_gold)}


def crowd(project: Any, records: list, ratings: dict[str, dict[str, Any]], top: int) -> dict[str, Any]:
    """CROWDLAB over every annotator's labels (repeats count as annotators), with out-of-fold
    probabilities of the small model fit on every annotation (an item's rows in one fold)."""
    from ..loop_models import rounds_for, single_label_model
    from ..models.base import make_small_model
    from .label_issues import crowd_label_quality, out_of_fold_probs
    if project.task.kind not in ("classification", "pair"):
        return {"skipped": f"CROWDLAB is computed for single-label tasks; this is {project.task.kind}"}
    if len(ratings) < 2:
        return {"skipped": "one annotator: CROWDLAB needs two or more (another model, repeats, or people)"}
    by_id = {r.id: r for r in records}
    kind = rounds_for(project.task)
    name, params = single_label_model(project.task)
    classes = list(project.task.labels)

    def probs(ids: list[str], rows: list[tuple[str, str]]) -> Any:
        p = out_of_fold_probs(kind, lambda: make_small_model(name, store=project.store, **params),
                              [by_id[i] for i, _ in rows], [lab for _, lab in rows], classes,
                              groups=[i for i, _ in rows])
        first = {}
        for k, (i, _) in enumerate(rows):
            first.setdefault(i, k)  # an item's rows share a fold and an input: the same prediction
        return p[[first[i] for i in ids]]
    try:
        out = crowd_label_quality(ratings, classes, probs)
    except ValueError as e:
        return {"skipped": str(e)}
    out["model"] = name
    out["items"] = out["items"][:top]
    return out


def near_dupes(project: Any, records: list, threshold: float = 0.9, top: int = 50) -> dict[str, Any]:
    """Near-duplicate pairs by the packaged sentence encoder (embeddings cached in the store)."""
    from ..models.encoder import Encoder, encode_cached
    from .duplicates import near_duplicate_report
    fields = project.task.input_fields
    texts = [" | ".join(" ".join(v) if isinstance(v, (list, tuple)) else str(v) for v in (r.fields[f] for f in fields))
             for r in records]
    enc = Encoder()
    try:
        out = near_duplicate_report(texts, [r.id for r in records], lambda t: encode_cached(enc, t, project.store),
                                    threshold=threshold, top=top)
    except Exception as e:  # noqa: BLE001 -- no encoder installed: say so, the rest of the report stands
        return {"skipped": f"no sentence encoder: {e}"}
    out["encoder"] = enc.name
    return out


def leakage_summary(project: Any) -> dict[str, Any]:
    """What the last `labelwise leakage` run wrote (leakage.json), if it ran."""
    import json
    path = project.config.resolve("leakage.json")
    if not path.exists():
        return {"skipped": "not probed: run `labelwise leakage -p PROJECT --dataset-name NAME`"}
    s = json.loads(path.read_text(encoding="utf-8"))
    return {"annotator": s.get("annotator"), "records": s.get("records"), "rates": s.get("rates", {}),
            "source": "leakage.json"}


def text_stats(records: list, fields: tuple) -> dict[str, Any]:
    lengths = np.array([sum(len(str(r.fields[f])) for f in fields) for r in records]) if records else np.zeros(0)
    texts = Counter(tuple(str(r.fields[f]).strip().lower() for f in fields) for r in records)
    dup = sum(c - 1 for c in texts.values() if c > 1)
    return {"items": len(records), "chars_min": int(lengths.min()) if lengths.size else 0,
            "chars_median": float(np.median(lengths)) if lengths.size else 0.0,
            "chars_max": int(lengths.max()) if lengths.size else 0, "exact_duplicates": dup,
            "duplicate_groups": sum(1 for c in texts.values() if c > 1)}


def datasheet(project: Any, ratings: dict[str, dict[str, Any]], gold_n: int, agreement: dict[str, Any]) -> list[dict]:
    """DataRubrics-style dimensions, each answered from the config or the database (``source``)."""
    cfg = project.config
    spent = project.store.spent_by_annotator()
    fs = cfg.few_shot
    labels = "; ".join(f"{k}: {v}" if v else k for k, v in cfg.task.labels.items()) \
        if isinstance(cfg.task.labels, dict) else ", ".join(cfg.task.labels)
    return [
        {"dimension": "sources", "answer": f"data file {cfg.data.path}", "source": "config data.path"},
        {"dimension": "annotators", "answer": ", ".join(f"{a} ({int(s['calls'])} paid answers)" for a, s in
                                                        spent.items()) or "none paid yet",
         "source": "ledger table"},
        {"dimension": "guidelines", "answer": f"instructions: {cfg.task.instructions or '(none)'}; labels: {labels}; "
                                              f"few-shot: {fs.mode}" + (f" (k={fs.k}, {fs.path})" if fs.mode != "none"
                                                                         else ""),
         "source": "config task.instructions, task.labels, few_shot"},
        {"dimension": "creation", "answer": f"labeled by {', '.join(ratings) or 'nobody yet'} with prompt template "
                                            f"{project.task.template_hash[:12]}", "source": "annotations table"},
        {"dimension": "quality assurance", "answer": f"{gold_n} gold items; gold.target "
                                                     f"{cfg.gold.target if cfg.gold.target is not None else 'unset'}; "
                                                     f"Krippendorff's alpha "
                                                     f"{_fmt(agreement.get('krippendorff_alpha'))}",
         "source": "config gold, data label column, this report"},
        {"dimension": "language coverage", "answer": "not recorded in the project (add it to the data)",
         "source": "-"},
        {"dimension": "novelty", "answer": "not assessed (free text; no LLM judge was run)", "source": "-"},
        {"dimension": "utility", "answer": "not assessed (free text; no LLM judge was run)", "source": "-"},
        {"dimension": "reproducibility", "answer": "every prompt and raw response is kept in the cache, keyed by "
                                                   "content; rerunning replays them", "source": "calls table"},
        {"dimension": "code", "answer": f"labelwise {__version__}", "source": "labelwise.__version__"},
    ]


def _fmt(x: Any) -> str:
    return "n/a" if x is None or (isinstance(x, float) and np.isnan(x)) else f"{x:.3f}"


def quality_report(project: Any, top: int = 50, with_issues: bool = True,
                   near_threshold: float | None = 0.9) -> dict[str, Any]:
    records = project.read_data()
    ids = {r.id for r in records}
    gold = {r.id: r.gold for r in records if r.gold is not None}
    ratings = _latest_by_annotator(project, ids)
    delta = project.config.gold.delta
    current = project.current_annotations(records)
    labels = {rid: (None if a.error else a.label) for rid, a in current.items()}
    given = Counter(str(v) for v in labels.values() if v is not None)
    gold_dist = Counter(str(v) for v in gold.values())
    per_domain: dict[str, list[bool]] = defaultdict(list)
    multi = project.task.kind == "multilabel"
    for r in records:
        if r.id in gold and r.id in labels:
            per_domain[r.domain or "(none)"].append(labels[r.id] is not None and same_label(labels[r.id], gold[r.id],
                                                                                          multi))
    agree = agreement_report(ratings) if len(ratings) >= 2 else {"annotators": list(ratings), "note":
                                                                  "one annotator: agreement needs two or more "
                                                                  "(another model, repeats, or people)"}
    for k in ("fleiss_kappa", "krippendorff_alpha"):
        if k in agree:
            agree[k] = finite_or_none(agree[k])
    return {
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "annotator": project.annotator.id, "items": len(records), "annotated": len(current),
        "errors": sum(1 for v in labels.values() if v is None),
        "gold_items": len(gold), "gold_accuracy": gold_accuracy(project, ratings, gold, delta), "delta": delta,
        "label_distribution": dict(given), "gold_distribution": dict(gold_dist),
        "per_domain": {d: {"n": len(v), "accuracy": float(np.mean(v))} for d, v in sorted(per_domain.items())},
        "agreement": agree,
        "label_issues": suspects(project, records, labels, top) if with_issues else {"skipped": "not asked"},
        "crowd": crowd(project, records, ratings, top) if with_issues else {"skipped": "not asked"},
        "text": text_stats(records, project.task.input_fields),
        "near_duplicates": near_dupes(project, records, near_threshold, top=top) if near_threshold is not None
        else {"skipped": "not asked"},
        "leakage": leakage_summary(project),
        "datasheet": datasheet(project, ratings, len(gold), agree),
    }
