"""`labelwise route`: plan who labels each item under a stated accuracy, then label everything."""
from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from ..project import Project

console = Console()


def register(app: typer.Typer) -> None:
    app.command()(route)


def route(project: Path = typer.Option(Path("."), "--project", "-p", help="folder with labelwise.yaml"),
          run: bool = typer.Option(False, "--run", help="after planning, label every item through the chain"),
          target_accuracy: float = typer.Option(None, help="overrides route.target_accuracy"),
          delta: float = typer.Option(None, help="overrides route.delta"),
          rule: str = typer.Option(None, "--rule", help="overrides route.rule: calibrated (thresholds on gold, with a "
                                   "guarantee) or quantile (the Chain Ensembles baseline: equal shares by confidence "
                                   "rank, no gold, nothing certified)"),
          wait: bool = typer.Option(False, "--wait", help="if another run holds the project, wait for it"),
          report: Path = typer.Option(None, "--report", help="with --run: where the HTML report goes (and its .json "
                                      "beside it); default route_report.html in the project folder")) -> None:
    """Plan (and with --run, carry out) a chain of annotators under a stated accuracy.

    Each stage in `route.stages` (cheapest first, optionally `human` last) is asked about the
    gold items earlier stages did not accept; its confidence threshold is the most lenient one
    whose exact (Clopper-Pearson) bound on the error of accepted gold items stays within
    1 - target, tested from strict to lenient (fixed-sequence testing). With --run every item
    is labeled by the first stage that may keep it; the rest go to people (the review queue),
    or, with no `human` stage, to the last stage, marked not certified. `export` then carries
    labeled_by and certified per item. Every paid answer goes through the cache and the budget,
    so a stopped route resumes without paying twice.

    A first stage `committee` (or `committee:MODEL`, `small:MODEL`) is a small model taught by
    the LLM stage after it: it costs nothing per item, and with route.continual it learns after
    each batch what the later stages said about the items it passed on. With --run, an HTML +
    JSON report (thresholds, coverage, risk-coverage plot, cost against the alternatives) is
    written to route_report.html."""
    from ..routing.router import plan_route, route_name, run_quantile_route, run_route
    from ..routing.stages import make_stages
    p = Project.open(project)
    rc = p.config.route
    if rule is not None and rule not in ("calibrated", "quantile"):
        raise typer.BadParameter(f"'{rule}': use calibrated or quantile", param_hint="--rule")
    updates = {k: v for k, v in (("target_accuracy", target_accuracy), ("delta", delta), ("rule", rule))
               if v is not None}
    if updates:
        p.config = p.config.model_copy(update={"route": rc.model_copy(update=updates)})
        rc = p.config.route
    stages = make_stages(p, rc.stages, rc.confidence)
    try:
        with p.store.lock("route", wait=wait):
            if rc.rule == "quantile":
                if not run:
                    console.print("the quantile rule has no plan (no gold, no thresholds): each model keeps an equal "
                                  f"share of what reaches it; `labelwise route -p {project} --run` labels everything")
                    return
                res = run_quantile_route(p, stages)
                _finish(p, stages, res, report or project / "route_report.html")
                return
            plans = plan_route(p, stages)
            _print_plan(plans, rc)
            stopped = next((pl.stopped for pl in plans if pl.stopped), None)
            if stopped:
                console.print(f"[yellow]planning stopped:[/] {stopped}")
                raise typer.Exit(3)
            if not run:
                console.print(f"plan only ({route_name(p)}); `labelwise route -p {project} --run` labels everything")
                return
            _finish(p, stages, run_route(p, stages, plans), report or project / "route_report.html")
    finally:
        for s in stages:
            if hasattr(s, "close"):
                s.close()


def _finish(p: Project, stages: list, res, out: Path) -> None:  # noqa: ANN001
    from ..report.route_html import write_route_report
    from ..routing.summary import route_summary
    parts = [f"{n} by {s}" for s, n in res.labeled.items()]
    if res.from_people:
        parts.append(f"{res.from_people} by people (their answers so far)")
    console.print(f"routed ({res.run}): {res.from_gold} from gold, {', '.join(parts) or 'none by a model'}; "
                  f"{res.certified} certified, {res.uncertified} not certified, "
                  f"{res.queued_for_people} queued for people, {res.unrouted} left")
    out = write_route_report(route_summary(p, stages, res), out)
    console.print(f"report: {out} (figures in {out.with_suffix('.json').name})")
    if res.stopped:
        console.print(f"[yellow]stopped:[/] {res.stopped}")
        raise typer.Exit(3)


def _print_plan(plans, rc) -> None:  # noqa: ANN001
    t = Table("stage", "gold asked", "threshold", "accepted", "coverage", "accuracy (calibration)",
              "error bound", "held-out accuracy", "calls", title=f"route plan: target accuracy {rc.target_accuracy:.0%}, "
              f"delta {rc.delta}")
    for pl in plans:
        th = pl.threshold
        if th is None:
            t.add_row(pl.stage, str(pl.gold_offered), "-", "everything left", "-", "-", "-", "-", "-")
            continue
        held = "-" if pl.holdout_accuracy is None else f"{pl.holdout_accuracy:.1%} of {pl.holdout_accepted}"
        t.add_row(pl.stage, str(pl.gold_offered), "none safe" if th.threshold is None else f"{th.threshold:.3f}",
                  str(th.accepted), f"{th.coverage:.0%}", "-" if th.accuracy is None else f"{th.accuracy:.1%}",
                  f"{th.error_bound:.3f}", held, str(pl.calls))
    console.print(t)
    for pl in plans:
        if pl.trained_on:
            console.print(f"[bold]{pl.stage}[/]: trained on {pl.trained_on} labels of the next stage"
                          + (f"; recalibrated before each of {pl.batches} batches at delta {pl.delta:.4g}"
                             if pl.batches > 1 else ""))
        if pl.threshold is not None:
            console.print(f"[bold]{pl.stage}[/]: {pl.threshold.reason}")
    first = next((pl.threshold for pl in plans if pl.threshold is not None), None)
    if first is not None:
        console.print(f"guarantee: {first.guarantee}")
