"""Active-learning commands: loop, compare, report."""
from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console

from ..project import Project

from .project_cmds import ProjectDir

console = Console()


def register(app: typer.Typer) -> None:
    app.command()(loop)
    app.command()(compare)
    app.command()(report)


def _print_round(r: dict) -> None:  # noqa: ANN001
    metric = r.get("metric", "accuracy")
    tests = ", ".join(f"{d} {v[metric]:.3f}" for d, v in r["test"].items())
    console.print(f"[bold]{r['run']}[/] round {r['round']}: {r['llm_labels']} LLM labels "
                  f"({r['calls']} new calls, {r['from_cache']} cached) -> {metric} {tests}")
    if r.get("prediction_change") is not None:
        console.print(f"  {r['prediction_change']:.1%} of the pool changed its predicted label"
                      + ("; predictions are stable, stopping before the budget is spent" if r.get("stable_stop") else ""))


def _loop(p: Project, strategy: str, budget: int | None, rounds: int | None, seed: int | None,
          stable_rounds: int | None = None):  # noqa: ANN202
    from ..loop import ActiveLearningLoop
    c = p.config.loop
    return ActiveLearningLoop(p, strategy=strategy or c.strategy, budget=budget or c.budget, rounds=rounds or c.rounds,
                              seed=c.seed if seed is None else seed, seed_size=c.seed_size, model=c.model,
                              seed_from_gold=c.seed_from_gold, class_balance=c.class_balance,
                              test_split=c.test_split, on_round=_print_round,
                              stable_rounds=c.stable_rounds if stable_rounds is None else stable_rounds,
                              stable_change=c.stable_change, initial_train=c.initial_train, pool_path=c.pool)


def loop(project: Path = ProjectDir,
         strategy: str = typer.Option(None, help="uncertainty (= entropy; mean_token_entropy for ner and multilabel, "
                                                 "the default), random, least_confidence, margin, entropy, ci, "
                                                 "diversity, committee; for ner: mean_token_entropy, max_token_entropy, "
                                                 "sequence_least_confidence, random; for multilabel (the tokens are "
                                                 "the labels): those three, random, ci, diversity, committee"),
         budget: int = typer.Option(None, help="LLM labels to buy in total, seed included"),
         rounds: int = typer.Option(None, help="rounds after the seed round"),
         seed: int = typer.Option(None, help="random seed for the seed set and ties"),
         stable_rounds: int = typer.Option(None, help="stop before the budget is spent once the small model's pool "
                                                      "predictions changed for under loop.stable_change (1%) of the "
                                                      "items this many rounds in a row (0: never)"),
         wait: bool = typer.Option(False, "--wait", help="if another run holds the project, wait for it")) -> None:
    """Active learning: the LLM labels only what a strategy picks; a small model labels the rest.

    Round after round the small model is retrained and scored on the source and every
    target-domain test set (data.split_field = loop.test_split). A stopped loop resumes at its
    last finished round; another annotator, template or schedule is another run (its name ends in
    a hash of them) that buys its own labels."""
    import json
    p = Project.open(project)
    al = _loop(p, strategy, budget, rounds, seed, stable_rounds)
    results = al.run(wait_for_lock=wait)
    out = p.config.resolve("loop-labels.jsonl")
    rows = al.final_labels()
    out.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    bought = sum(r["source"] == "llm" for r in rows)
    console.print(f"{len(results)} round(s) stored; labels for all {len(rows)} pool items in {out} "
                  f"({bought} from the LLM, {len(rows) - bought} from the small model); "
                  f"`labelwise report -p {project}` draws the rounds")


def compare(project: Path = ProjectDir,
            strategies: str = typer.Option("random,entropy,margin,ci,diversity", help="comma-separated"),
            seeds: str = typer.Option("0,1,2", help="comma-separated seeds"),
            budget: int = typer.Option(None), rounds: int = typer.Option(None)) -> None:
    """Run several strategies over the same pool and seeds; LLM answers bought once are reused."""
    p = Project.open(project)
    for s in [x.strip() for x in strategies.split(",") if x.strip()]:
        for seed in [int(x) for x in seeds.split(",") if x.strip()]:
            _loop(p, s, budget, rounds, seed).run()
    report(project, out=None)


def report(project: Path = ProjectDir,
           out: Path = typer.Option(None, help="HTML file (default: report.html in the project)")) -> None:
    """Write one self-contained HTML report (plots inline) and a JSON of all its figures."""
    from ..report import write_report
    p = Project.open(project)
    results = [res for _, _, _, res in p.store.rounds()]
    if not results:
        raise typer.BadParameter("no loop rounds stored yet; run `labelwise loop` first", param_hint="project")
    spent = p.store.spent()
    calls = max(1, spent["calls"])
    pool = [r for r in p.store.records() if r.split != p.config.loop.test_split]
    path = write_report(results, out or p.config.resolve("report.html"), pool_size=len(pool),
                        cost_per_llm_label=spent["money"] / calls, seconds_per_llm_label=spent["seconds"] / calls,
                        human_price_per_label=p.config.human_price_per_label)
    console.print(f"wrote {path} and {path.with_suffix('.json')}")
