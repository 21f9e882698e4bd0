"""The routed dataset (issue 10): is a chain of annotators, calibrated on gold, as accurate as
the best single LLM with fewer of its calls, and does the guarantee hold?

Per data set, N items (with their human labels); each packaged model labels every item once
through the engine (fixed few-shot examples from outside the items, choices scored), so every
route below replays answers from the cache and only the routing differs. For each of 3 draws
of the gold set (``route.gold_sample`` items, seed = draw) the other items are the pool:

- each model alone on every pool item;
- the chain 0.5b -> 1.5b under the quantile rule (LLM Chain Ensembles, no gold, no guarantee);
- the same chain calibrated at targets 0.90 and 0.95 (the last stage labels what nobody may
  certify, marked not certified);
- a committee of 3 `logreg` small models taught by the 1.5b (on `train_size` pool items), then
  the 1.5b, with and without continual learning, at the same targets.

Columns: whole-pool accuracy against the human labels, share each stage labeled, calls to the
largest model (pool and gold asks, distinct items) as a share of the pool, certified share and
its accuracy, and in how many draws the certified accuracy fell below the target. Needs
../shared/datasets. Answers are cached under --workdir, so a rerun replays them.
"""
from __future__ import annotations

import argparse
import csv
import sys
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from results import mean_std, sample_csv, shared_datasets, write_section  # noqa: E402

from labelwise.project import Project  # noqa: E402
from labelwise.routing.router import gold_records, plan_route, route_name, run_quantile_route, run_route  # noqa: E402
from labelwise.routing.stages import AnnotatorStage, make_stages  # noqa: E402

SMALL, LARGE = "qwen2.5-coder-0.5b-instruct", "qwen2.5-coder-1.5b-instruct"
SPEC = {m: f"llamacpp:{m}" for m in (SMALL, LARGE)}


def _text(r: dict) -> str:
    return " ".join(r["text"].split())


def sentiment(n: int) -> tuple[list[tuple], list[tuple], dict]:
    ds = shared_datasets()
    half = n // 2
    items = [("sst2", _text(r), r["label_name"]) for r in sample_csv(ds / "sst2" / "validation.csv", half)]
    for name in ("yelp", "amazon", "imdb"):  # the shifted domains
        items += [(name, _text(r), r["label_name"]) for r in
                  sample_csv(ds / "uci_sentiment_sentences" / f"{name}.csv", (n - half) // 3 + 1)]
    examples = [(_text(r), r["label_name"]) for r in sample_csv(ds / "sst2" / "train.csv", 200)]
    return items[:n], examples, {"instructions": "Classify the sentiment of the sentence.",
                                  "labels": {"positive": "", "negative": ""}}


def offensive(n: int) -> tuple[list[tuple], list[tuple], dict]:
    ds = shared_datasets() / "tweet_eval_offensive"
    items = [("", _text(r), r["label_name"]) for r in sample_csv(ds / "test.csv", n)]
    examples = [(_text(r), r["label_name"]) for r in sample_csv(ds / "train.csv", 200)]
    return items, examples, {"instructions": "Is the tweet offensive (insults, threats, profanity)?",
                             "labels": {"offensive": "insulting, threatening or profane",
                                        "not-offensive": "none of that"}}


def ag_news(n: int) -> tuple[list[tuple], list[tuple], dict]:
    rows = sample_csv(shared_datasets() / "ag_news" / "test.csv", n + 200)
    items = [("", _text(r), r["label_name"]) for r in rows[:n]]
    examples = [(_text(r), r["label_name"]) for r in rows[n:]]
    return items, examples, {"instructions": "What is the news article about?",
                             "labels": {"World": "world news, politics", "Sports": "sports",
                                        "Business": "business, economy", "Sci/Tech": "science and technology"}}


def mrpc(n: int) -> tuple[list[tuple], list[tuple], dict]:
    ds = shared_datasets() / "mrpc"
    lab = lambda r: "yes" if r["label"] == "1" else "no"  # noqa: E731
    items = [("", (r["sentence1"].strip(), r["sentence2"].strip()), lab(r)) for r in sample_csv(ds / "test.csv", n)]
    examples = [((r["sentence1"].strip(), r["sentence2"].strip()), lab(r)) for r in sample_csv(ds / "train.csv", 200)]
    return items, examples, {"instructions": "Do the two sentences say the same thing (paraphrases)?",
                             "labels": {"yes": "the sentences are paraphrases", "no": "they differ in meaning"},
                             "pair": True}


SETS: dict[str, Callable[[int], tuple]] = {"sentiment": sentiment, "offensive": offensive, "ag_news": ag_news,
                                           "mrpc": mrpc}


def write_project(folder: Path, items: list[tuple], examples: list[tuple], spec: dict, model: str,
                  shots: int = 0, threads: int | None = None) -> Project:
    """A bench project: data.csv (id, text or a/b, label, domain), examples.csv and fixed few-shot
    when ``shots`` > 0, and the embedded ``model`` as the annotator."""
    folder.mkdir(parents=True, exist_ok=True)
    pair = spec.get("pair", False)
    cols = ["id", "a", "b", "label", "domain"] if pair else ["id", "text", "label", "domain"]
    with open(folder / "data.csv", "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(cols)
        for i, (dom, x, y) in enumerate(items):
            w.writerow([f"r{i}", *(x if pair else (x,)), y, dom])
    if shots:
        with open(folder / "examples.csv", "w", newline="", encoding="utf-8") as f:
            w = csv.writer(f)
            w.writerow(cols[:-1])
            for i, (x, y) in enumerate(examples):
                w.writerow([f"e{i}", *(x if pair else (x,)), y])
    labels = "{" + ", ".join(f'"{k}": "{v}"' for k, v in spec["labels"].items()) + "}"
    task = ("task:\n  kind: pair\n  text_field: a\n  text_pair_field: b\n" if pair else
            "task:\n  kind: classification\n  text_field: text\n")
    (folder / "labelwise.yaml").write_text(
        task + f"  instructions: {spec['instructions']}\n  labels: {labels}\n"
        "data: {path: data.csv, id_field: id, label_field: label, domain_field: domain}\n"
        + (f"few_shot: {{mode: fixed, k: {shots}, path: examples.csv}}\n" if shots else "")
        + f"annotator: {{backend: llamacpp, model: {model}"
        + (f", n_threads: {threads}" if threads else "") + "}\n", encoding="utf-8")
    return Project.open(folder)


def build(folder: Path, name: str, args: argparse.Namespace) -> Project:
    items, examples, spec = SETS[name](args.n)
    return write_project(folder, items, examples, spec, LARGE, args.shots, args.threads)


def label_everything(p: Project, records: list) -> dict[str, dict[str, Any]]:
    """Each model's label per item (through the engine; cached), and seconds per item."""
    out = {}
    for m in (SMALL, LARGE):
        sub = p.with_annotator("llamacpp", m)
        t0 = time.perf_counter()
        s = sub.run(records)
        secs = time.perf_counter() - t0
        cur = sub.current_annotations(records)
        out[m] = {"labels": {rid: (a.label if a.error is None else None) for rid, a in cur.items()},
                  "s_per_item": secs / max(s.calls, 1) if s.calls else None}
        sub.annotator.unload()
        print(f"  {m}: {s.calls} new answers in {secs:.0f} s", flush=True)
    return out


def counted(stages: list) -> dict[str, set]:
    """Wrap each LLM stage's label() to record which items it was asked about."""
    asked: dict[str, set] = {}
    for s in stages:
        if isinstance(s, AnnotatorStage):
            seen = asked.setdefault(s.name, set())
            inner = s.label

            def label(records, inner=inner, seen=seen):  # noqa: ANN001, ANN202
                seen.update(r.id for r in records)
                return inner(records)
            s.label = label  # type: ignore[method-assign]
    return asked


def one_route(p: Project, draw: int, specs: list[str], rule: str, target: float, continual: bool,
              args: argparse.Namespace) -> dict[str, Any]:
    rc = p.config.route.model_copy(update={
        "stages": specs, "rule": rule, "target_accuracy": target, "delta": args.delta, "gold": None,
        "gold_sample": args.gold, "seed": draw, "holdout": 0.3, "train_size": args.train_size,
        "batch_size": args.batch_size, "continual": continual})
    p.config = p.config.model_copy(update={"route": rc})
    stages = make_stages(p, specs, "margin")
    asked = counted(stages)
    res = run_quantile_route(p, stages) if rule == "quantile" else run_route(p, stages, plan_route(p, stages))
    routed = p.store.routed(route_name(p))
    gold_ids = {r.id for r in gold_records(p)}
    truth = {r.id: r.gold for r in p.read_data() if r.id not in gold_ids}
    got = {rid: routed.get(rid) for rid in truth}
    acc = np.mean([g is not None and g[1] == truth[rid] for rid, g in got.items()])
    cert = [rid for rid, g in got.items() if g is not None and g[3]]
    cert_acc = np.mean([got[rid][1] == truth[rid] for rid in cert]) if cert else None
    shares = {s: sum(1 for g in got.values() if g is not None and g[0] == s) / len(truth) for s in specs}
    large = asked.get(SPEC[LARGE], set())
    return {"accuracy": acc, "shares": shares, "large_calls": len(large & set(truth)) / len(truth),
            "gold_asks": len(large & gold_ids),
            "certified": len(cert) / len(truth), "certified_accuracy": cert_acc,
            "violated": cert_acc is not None and cert_acc < target, "stopped": res.stopped}


def bench_set(name: str, args: argparse.Namespace) -> tuple[list[str], str]:
    print(f"== {name}", flush=True)
    p = build(Path(args.workdir) / name, name, args)
    records = p.load_records()
    single = label_everything(p, records)
    truth = {r.id: r.gold for r in records}
    labels = list(p.task.labels)
    rows: dict[str, list[dict]] = {}
    for draw in range(args.draws):
        p.config = p.config.model_copy(update={"route": p.config.route.model_copy(
            update={"gold": None, "gold_sample": args.gold, "seed": draw})})
        pool = [rid for rid in truth if rid not in {r.id for r in gold_records(p)}]
        for m in (SMALL, LARGE):
            lab = single[m]["labels"]
            rows.setdefault(f"{m} alone", []).append({
                "accuracy": np.mean([lab.get(rid) == truth[rid] for rid in pool]), "shares": {SPEC[m]: 1.0},
                "large_calls": 1.0 if m == LARGE else 0.0, "gold_asks": 0, "certified": 0.0, "certified_accuracy": None,
                "violated": False})
        chain = [SPEC[SMALL], SPEC[LARGE]]
        small = "small:pair" if p.task.kind == "pair" else "committee"  # pairs: one fine-tuned bi-encoder
        committee = [small, SPEC[LARGE]]
        runs = [("chain 0.5b→1.5b, quantile shares", chain, "quantile", 0.9, True)]
        runs += [(f"chain 0.5b→1.5b, calibrated {t:.2f}", chain, "calibrated", t, True) for t in args.targets]
        runs += [(f"{small}→1.5b{' continual' if c else ''}, calibrated {t:.2f}", committee, "calibrated", t, c)
                 for c in (True, False) for t in (args.targets[:1] if small != "committee" else args.targets)]
        for title, specs, rule, target, continual in runs:
            t0 = time.perf_counter()
            r = one_route(p, draw, specs, rule, target, continual, args)
            rows.setdefault(title, []).append(r)
            print(f"  draw {draw} {title}: acc {r['accuracy']:.3f} large calls {r['large_calls']:.2f} "
                  f"certified {r['certified']:.2f} ({time.perf_counter() - t0:.0f} s)", flush=True)
    best = max(rows[f"{m} alone"][0]["accuracy"] for m in (SMALL, LARGE))
    lines = [f"**{name}** ({len(records)} items, {args.gold} gold per draw, {len(records) - args.gold} in the pool; "
             f"labels: {', '.join(labels)})", "",
             "| way | pool accuracy | labeled by (share of pool) | 1.5b calls on the pool / pool | 1.5b gold asks | "
             "certified | certified accuracy | draws below target |", "|---|---|---|---|---|---|---|---|"]
    for title, rs in rows.items():
        share = " / ".join(f"{s.split(':')[-1].replace('qwen2.5-coder-', '').replace('-instruct', '')} "
                           f"{np.mean([r['shares'].get(s, 0) for r in rs]):.0%}" for s in rs[0]["shares"])
        ca = [r["certified_accuracy"] for r in rs if r["certified_accuracy"] is not None]
        below = "–" if "alone" in title or "quantile" in title else f"{sum(r['violated'] for r in rs)} of {len(rs)}"
        lines.append(f"| {title} | {mean_std([r['accuracy'] for r in rs])} | {share} | "
                     f"{mean_std([r['large_calls'] for r in rs])} | {np.mean([r['gold_asks'] for r in rs]):.0f} | "
                     f"{mean_std([r['certified'] for r in rs])} | "
                     f"{mean_std(ca) if ca else '–'} | {below} |")
    speed = ", ".join(f"{m.replace('qwen2.5-coder-', '').replace('-instruct', '')} "
                      f"{single[m]['s_per_item']:.2f} s/item" for m in (SMALL, LARGE) if single[m]["s_per_item"])
    lines += ["", f"Best single model on the pool (draw 0): {best:.1%}." + (f" Labeling speed here: {speed}." if speed
                                                                              else "")]
    return lines, name


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sets", default="sentiment,offensive,ag_news,mrpc")
    ap.add_argument("--n", type=int, default=500, help="items per set (gold + pool)")
    ap.add_argument("--gold", type=int, default=250, help="gold items per draw (30%% held out)")
    ap.add_argument("--draws", type=int, default=3)
    ap.add_argument("--targets", default="0.90,0.95")
    ap.add_argument("--delta", type=float, default=0.05)
    ap.add_argument("--shots", type=int, default=4)
    ap.add_argument("--train-size", type=int, default=100, help="pool items the 1.5b labels to teach the committee")
    ap.add_argument("--batch-size", type=int, default=50)
    ap.add_argument("--workdir", default="/tmp/labelwise-bench-route")
    ap.add_argument("--threads", type=int, default=None, help="llama.cpp threads (default: its own choice)")
    args = ap.parse_args()
    args.targets = [float(t) for t in args.targets.split(",")]
    sections = []
    cmd = "python bench/bench_route.py " + " ".join(a for a in sys.argv[1:])
    for name in args.sets.split(","):
        lines, _ = bench_set(name, args)
        sections.append("\n".join(lines))
        body = (f"Models: `{SMALL}` and `{LARGE}` (embedded, {args.shots} fixed few-shot examples from outside the "
                f"items, choices scored, margin = top-1 minus top-2 probability as confidence). {args.draws} draws of "
                f"the gold set; mean ± std over draws; delta {args.delta}; committee: 3 bagged `logreg` models taught "
                f"by the 1.5b on {args.train_size} pool items, batches of {args.batch_size}. Pool accuracy counts "
                "every pool item against its human label (an item without a label counts as wrong). '1.5b calls on the "
                "pool / pool' counts distinct pool items the 1.5b was asked about (the committee's teaching sample "
                "included): 1.00 is labeling everything with it; '1.5b gold asks' is the fixed calibration cost on top "
                "(gold items it was asked about, mean over draws), which a larger pool amortizes. For pairs the small "
                "stage is one fine-tuned `pair` bi-encoder (`small:pair`), at the first target only. 'draws below target': draws whose "
                "certified items scored below the target accuracy (the guarantee allows this in at most a delta "
                "share of draws, per stage).\n\n" + "\n\n".join(sections))
        write_section("route", "Routed dataset: chains and committees against single models", body, cmd.strip())


if __name__ == "__main__":
    main()
