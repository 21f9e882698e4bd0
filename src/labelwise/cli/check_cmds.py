"""`labelwise check` (is this annotator good enough here, before the pool is paid for?) and
`labelwise quality` (what is known about the labels as they stand)."""
from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from ..project import Project

console = Console()


def register(app: typer.Typer) -> None:
    app.command()(check)
    app.command()(quality)


def _split(value: str | None) -> list[str]:
    return [v.strip() for v in value.split(",") if v.strip()] if value else []


def check(project: Path = typer.Option(Path("."), "--project", "-p", help="folder with labelwise.yaml"),
          gold: Path = typer.Option(None, "--gold", help="labeled items with the data's columns (default: gold.path, "
                                    "else the data's rows that have a gold label)"),
          n: int = typer.Option(50, "--n", min=1, help="gold items per candidate (20-100 is the useful range)"),
          target: float = typer.Option(None, "--target", min=0.0, max=1.0, help="accuracy needed (default: "
                                       "gold.target)"),
          delta: float = typer.Option(None, "--delta", help="error rate of each bound (default: gold.delta)"),
          models: str = typer.Option(None, "--models", help="comma-separated BACKEND:MODEL (or model names for the "
                                     "project's backend); default: the project's annotator"),
          few_shot: str = typer.Option(None, "--few-shot", help="comma-separated modes to try: none, fixed, random, "
                                       "nearest (default: the project's)"),
          calibrate: str = typer.Option(None, "--calibrate", help="off, on, or off,on (default: the project's)"),
          seed: int = typer.Option(0, help="which gold items are drawn")) -> None:
    """Score candidate configurations on a small gold sample before labeling the pool.

    Each candidate (every combination of --models, --few-shot and --calibrate) answers the same
    N gold items through the engine: cached, budgeted, in the ledger, so `annotate` later reuses
    what the chosen one paid for. Per candidate: accuracy with exact one-sided Clopper-Pearson
    bounds (confidence 1 - delta each side), errors, ECE, seconds and money per item, and a
    verdict against the target: meets (lower bound >= target), below (upper bound < target) or
    undecided (more gold would tell). The recommendation is the cheapest that meets the target.
    Writes check.json in the project folder. Exit code 6 when no candidate meets the target."""
    from ..quality.check import candidates, check_candidate, gold_sample, recommend
    p = Project.open(project)
    g = p.config.gold
    target = g.target if target is None else target
    delta = g.delta if delta is None else delta
    source = gold.resolve() if gold is not None else g.path or p.config.data.path
    pool = p.gold_stream(gold.resolve()) if gold is not None else p.gold_stream() or p.read_data()
    if g.certainty_field:  # the most certain gold items first (gold.certainty_field, gold.min_certainty)
        gold_sample(pool, n, seed)  # the error when there is no gold at all
        sample = p.choose_gold([r for r in pool if r.gold is not None], p.gold_certainty(source, pool), n, seed)
    else:
        sample = gold_sample(pool, n, seed)
    cal = {"off": False, "on": True}
    bad = [c for c in _split(calibrate) if c not in cal]
    if bad:
        raise typer.BadParameter(f"{bad[0]!r}: use off, on or off,on", param_hint="--calibrate")
    cands = candidates(p, _split(models), _split(few_shot), [cal[c] for c in _split(calibrate)])
    rows = []
    for c in cands:
        console.print(f"checking {c.name} on {len(sample)} gold items ...")
        rows.append(check_candidate(p, c, sample, target, delta))
    best, why = recommend(rows)
    t = Table("candidate", "n", "accuracy", f"bounds ({1 - delta:.0%} each side)", "verdict", "errors", "ECE",
              "s/item", "$/item", title=f"check: target {'-' if target is None else f'{target:.0%}'}")
    for r in rows:
        t.add_row(r["candidate"], str(r["n"]), "-" if r["accuracy"] is None else f"{r['accuracy']:.1%}",
                  f"{r['lower']:.1%} - {r['upper']:.1%}", r["verdict"], str(r["errors"]),
                  "-" if r["ece"] is None else f"{r['ece']:.3f}",
                  "-" if r["seconds_per_item"] is None else f"{r['seconds_per_item']:.2f}",
                  "-" if r["money_per_item"] is None else f"{r['money_per_item']:.5f}")
    console.print(t)
    console.print(f"recommended: {why}")
    (project / "check.json").write_text(json.dumps({"target": target, "delta": delta, "rows": rows,
                                                    "recommended": best and best["candidate"]}, indent=2))
    stopped = next((r["stopped"] for r in rows if r["stopped"]), None)
    if stopped:
        console.print(f"[yellow]stopped:[/] {stopped}")
        raise typer.Exit(3)
    if target is not None and not any(r["verdict"] == "meets" for r in rows):
        raise typer.Exit(6)


def quality(project: Path = typer.Option(Path("."), "--project", "-p", help="folder with labelwise.yaml"),
            out: Path = typer.Option(None, "--out", help="the HTML report (its .json beside it); default "
                                     "quality.html in the project folder"),
            top: int = typer.Option(50, "--top", min=0, help="suspect labels listed in the report"),
            queue: bool = typer.Option(False, "--queue", help="put the suspect labels in the review queue for people"),
            no_issues: bool = typer.Option(False, "--no-issues", help="skip label issues and CROWDLAB (they fit a "
                                           "small model five times)"),
            near: float = typer.Option(0.9, "--near-duplicates", min=0.0, max=1.0,
                                       help="cosine similarity at which two texts count as near-duplicates (by the "
                                       "packaged sentence encoder); 1 turns the search off")) -> None:
    """Report on the labels as they stand (HTML + JSON); asks no model.

    Gold accuracy per annotator with exact bounds, agreement between annotators and repeats (Cohen's and Fleiss' kappa,
    Krippendorff's alpha with missing ratings), suspect labels (cleanlab on out-of-fold
    small-model probabilities; CROWDLAB per annotator when several labeled the same items),
    label and length statistics, exact and near-duplicates, accuracy per domain, the last
    leakage probe, and a datasheet filled from the config and the ledger."""
    from ..quality.report import quality_report
    from ..report.quality_html import write_quality_report
    p = Project.open(project).labeling_project()  # after a gold reroute: the stage that labels now
    q = quality_report(p, top=top, with_issues=not no_issues, near_threshold=near if near < 1 else None)
    path = write_quality_report(q, out or project / "quality.html")
    for r in q["gold_accuracy"]:
        console.print(f"gold: {r['annotator']}: {r['correct']} of {r['gold_items']} ({r['accuracy']:.1%}; bounds "
                      f"{r['lower']:.1%} to {r['upper']:.1%})")
    li = q["label_issues"]
    if "flagged" in li:
        console.print(f"suspect labels: {li['flagged']} of {li['checked']}")
        suspect = sorted({s["record_id"] for s in li["items"] if s.get("flagged", True)})  # NER lists unflagged too
        if queue and suspect:
            n_queued = p.store.queue_for_review("quality", suspect,
                                                "suspect label (confident learning)")
            console.print(f"queued {n_queued} for review")
    nd = q["near_duplicates"]
    if "pairs" in nd:
        console.print(f"near-duplicates: {nd['pairs']} pairs at cosine >= {nd['threshold']} ({nd['items_in_pairs']} items)")
    cr = q["crowd"]
    for a in cr.get("annotators", []):
        console.print(f"CROWDLAB: {a['annotator']}: quality {a['quality']:.3f}, agrees with the consensus on "
                      f"{a['agreement_with_consensus']:.1%}")
    console.print(f"report: {path} (figures in {path.with_suffix('.json').name})")
