"""Project commands: init, estimate, annotate, eval, export."""
from __future__ import annotations

import json
import shutil
from importlib import resources
from pathlib import Path

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

from ..config import CONFIG_NAME
from ..project import Project

console = Console()
ProjectDir = typer.Option(Path("."), "--project", "-p", help="folder with labelwise.yaml")


def register(app: typer.Typer) -> None:
    app.command()(init)
    app.command()(estimate)
    app.command()(annotate)
    app.command("eval")(evaluate)
    app.command()(export)
    app.command("import")(import_labels)


def _starters() -> dict[str, object]:
    from ..tasks.kinds import task_kinds  # each task kind may bring a starter
    return {name: k.starter for name, k in task_kinds().items() if k.starter is not None}


def init(directory: Path = typer.Argument(..., help="folder to create the project in"),
         task: str = typer.Option("classification", help="the task kind's starter: classification (Yelp sentiment "
                                  "sample), ner (WNUT-17 tweets sample), or any kind that brings one"),
         force: bool = typer.Option(False, help="overwrite an existing labelwise.yaml")) -> None:
    """Create a project: a commented labelwise.yaml and a small bundled dataset to start from."""
    from ..tasks.kinds import load_object
    starters = _starters()
    if task not in starters:
        raise typer.BadParameter(f"no starter for '{task}'; use one of {', '.join(starters)}", param_hint="--task")
    starter = starters[task]
    template, files = load_object(starter.template), starter.files
    directory.mkdir(parents=True, exist_ok=True)
    cfg = directory / CONFIG_NAME
    if cfg.exists() and not force:
        raise typer.BadParameter(f"{cfg} exists; use --force to overwrite", param_hint="directory")
    data = directory / "data"
    data.mkdir(exist_ok=True)
    for name in (*files, "ATTRIBUTION.md"):
        src = resources.files("labelwise").joinpath("demo_data", name)
        with resources.as_file(src) as p:
            shutil.copy(p, data / name)
    cfg.write_text(template, encoding="utf-8")
    console.print(f"created {cfg} with the bundled {starter.about} in {data}/\n"
                  f"next: edit it, then `labelwise estimate -p {directory}` and `labelwise annotate -p {directory}`")


def estimate(project: Path = ProjectDir,
             sample: int = typer.Option(300, help="with retrieved (nearest) examples, plan this many items at "
                                                   "random and scale (planning all would embed them all)"),
             calibrate: int = typer.Option(6, help="embedded model: time it on this many pending items (their "
                                                      "answers are kept); 0 uses past calls only")) -> None:
    """Tokens, calls, time and money the next `annotate` will need, in seconds.

    Nothing is paid for. The embedded model's time is measured on this machine now, on a few
    pending items of this project (kept as their annotations); other backends' time comes from
    the project's past calls. Says when other processes keep the cores busy."""
    from ..estimate import estimate as run_estimate
    e = run_estimate(Project.open(project), sample=sample, calibrate=calibrate,
                     say=lambda m: console.print(f"[dim]{m}[/]"))
    t = Table("what", "estimate", show_header=False)
    est = f" (estimated from a random sample of {e['sampled']})" if e["sampled"] else ""
    t.add_row("items", f"{e['items']} ({e['already_annotated']} already annotated, {e['to_annotate']} to do){est}")
    t.add_row("LLM calls", f"{e['new_calls']} new, {e['cached_queries']} answered from the cache")
    t.add_row("prompt tokens", f"~{e['prompt_tokens_approx']:,} (at most {e['prompt_tokens_upper_bound']:,})")
    t.add_row("completion tokens", f"at most {e['completion_tokens_upper_bound']:,}")
    money = "unknown (no price for this model)" if e["money_approx"] is None else \
        f"~${e['money_approx']:.4f} (at most ${e['money_upper_bound']:.4f})"
    t.add_row("money", money)
    secs = e["seconds_approx"]
    t.add_row("time", "unknown" if secs is None else f"~{secs / 60:.1f} min ({e['seconds_basis']})")
    t.add_row("budget left", ", ".join(f"{k}: {'unlimited' if v is None else round(v, 4)}"
                                       for k, v in e["budget_remaining"].items()))
    console.print(t)
    if e["calibration"] and e["calibration"]["busy"]:
        console.print(f"[yellow]busy machine:[/] {e['calibration']['threads']}", soft_wrap=True)


def annotate(project: Path = ProjectDir,
             limit: int = typer.Option(None, help="annotate at most this many more items"),
             wait: bool = typer.Option(False, "--wait", help="if another run holds the project, wait for it "
                                       "instead of stopping"),
             runner: str = typer.Option("local", help="local: this process; ray: batches spread over Ray actors "
                                        "(ray.init() here, or the cluster RAY_ADDRESS names; a cluster needs "
                                        "store.url)"),
             workers: int = typer.Option(4, min=1, help="with --runner ray: how many actors")) -> None:
    """Label the pending items: cached answers replayed, budget reserved before each call.

    Safe to stop at any time (Ctrl-C or kill): rerun and it goes on where it stopped, paying
    for no answer twice. An item counts as done only if it was annotated as the project asks
    now: change the text, the prompt, the examples or the annotator and it is asked again.

    Gold questions (the data's rows with a gold label, and the items of `gold.path` mixed in at
    random positions, looking like any other) are scored as they come; with `gold.target` set,
    once the annotator is shown below it (the exact upper bound on its gold accuracy falls
    under the target) the run stops before its next paid call (`gold.action: stop`, the
    default) or warns.

    Exit codes: 0 all done; 2 bad input or config; 3 stopped by the budget with items
    pending; 4 the backend kept failing, items pending; 5 another run holds the project;
    6 stopped by the gold questions.

    Many workers: with `store.url` (PostgreSQL) several `labelwise annotate` processes, on any
    machines, work on one project together, each question paid once. `--runner ray --workers 8`
    spreads the pending items over Ray actors (gold questions are not watched there)."""
    from .exit_codes import exit_for
    if runner not in ("local", "ray"):
        raise typer.BadParameter(f"--runner must be local or ray, not {runner!r}")
    if runner == "ray":
        return _annotate_with_ray(project, workers, wait, limit)
    p = Project.open(project)
    records = p.load_records()
    with Progress(TextColumn("[bold]annotating"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  TextColumn("eta"), TimeRemainingColumn(), TextColumn("{task.fields[info]}"), console=console) as bar:
        tid = bar.add_task("annotate", total=min(len(records), limit) if limit else len(records),
                           info="loading model...")

        def tick(s) -> None:  # noqa: ANN001
            bar.update(tid, total=s.total, completed=s.already_done + s.annotated + s.failed,
                       info=f"calls {s.calls} cached {s.from_cache} errors {s.errors} ${s.money:.4f}")

        s = p.run(records, on_progress=tick, limit=limit, wait_for_lock=wait, watch_gold=True)
    console.print(f"annotated {s.annotated} item(s) in {s.seconds:.1f}s ({s.already_done} were already done): "
                  f"{s.calls} LLM call(s), {s.from_cache} answer(s) from the cache, "
                  f"{s.prompt_tokens + s.completion_tokens:,} tokens, ${s.money:.4f}; "
                  f"{s.errors} stored as errors, {s.failed} failed and left pending")
    threads = getattr(p.annotator, "threads", None)  # the embedded model: threads it took, and why
    if threads is not None:
        console.print(f"[yellow]busy machine:[/] {threads.message()}" if threads.busy else
                      f"[dim]model: {threads.message()}[/]", soft_wrap=True)
    for r in s.rerouted:
        console.print(f"[yellow]rerouted:[/] {r['from']} was shown below gold.target ({r['gold']['correct']} of "
                      f"{r['gold']['n']} gold right, upper bound {r['gold']['upper']:.1%}); its items went to "
                      f"{r['to']} ({r['calls']} call(s) and ${r['money']:.4f} spent on it first, kept in the store)",
                      soft_wrap=True)
    if s.gold:
        _print_gold(s.gold)
    if s.stopped:
        console.print(f"[yellow]stopped:[/] {s.stopped}")
    if s.last_failure and s.failed:
        console.print(f"[yellow]last failure:[/] {s.last_failure}")
    code = exit_for(s)
    if code:
        console.print(f"[yellow]{s.pending} item(s) still pending[/]: rerun `labelwise annotate -p {project}` "
                      f"to go on (exit code {code})")
        raise typer.Exit(code)


def _annotate_with_ray(project: Path, workers: int, wait: bool, limit: int | None) -> None:
    from ..runners.ray_runner import run_with_ray
    from .exit_codes import exit_for
    if limit is not None:
        raise typer.BadParameter("--limit is not supported with --runner ray")
    with Progress(TextColumn("[bold]annotating"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  TextColumn("eta"), TimeRemainingColumn(), TextColumn("{task.fields[info]}"), console=console) as bar:
        tid = bar.add_task("annotate", total=None, info=f"starting {workers} Ray actor(s)...")

        def tick(s) -> None:  # noqa: ANN001
            bar.update(tid, total=s.total, completed=s.already_done + s.annotated + s.failed,
                       info=f"{s.batches} batch(es) calls {s.calls} cached {s.from_cache} errors {s.errors} "
                            f"${s.money:.4f}")

        s = run_with_ray(project, workers, on_progress=tick, wait_for_lock=wait)
    console.print(f"annotated {s.annotated} item(s) in {s.seconds:.1f}s ({s.already_done} were already done) with "
                  f"{s.workers} Ray actor(s), {s.batches} batch(es): {s.calls} LLM call(s), {s.from_cache} answer(s) "
                  f"from the cache, {s.prompt_tokens + s.completion_tokens:,} tokens, ${s.money:.4f}; "
                  f"{s.errors} stored as errors, {s.failed} failed and left pending")
    for why in s.stops:
        console.print(f"[yellow]stopped:[/] {why}")
    code = exit_for(s)
    if code:
        console.print(f"[yellow]{s.pending} item(s) still pending[/]: rerun to go on (exit code {code})")
        raise typer.Exit(code)


def _print_gold(g: dict) -> None:  # noqa: ANN001
    acc = "-" if g["accuracy"] is None else f"{g['accuracy']:.1%}"
    line = (f"gold questions: {g['correct']} of {g['n']} right ({acc}; {1 - g['delta']:.0%} bounds "
            f"{g['lower']:.1%} to {g['upper']:.1%})")
    if g["target"]:
        line += f", target {g['target']:.0%}"
    if g["below_target"] and g["target"]:
        console.print(f"[bold red]{line}: this annotator is below the target here[/] -- try `labelwise annotators "
                      "compare` or another model or prompt before labeling more")
    else:
        console.print(line)


def evaluate(project: Path = ProjectDir,
             json_out: Path = typer.Option(None, "--json", help="also write the full metrics as JSON"),
             annotator: str = typer.Option(None, "--annotator", help="evaluate another annotator's stored answers, "
                                           "e.g. a reviewer: human/alice (default: the project's annotator)")) -> None:
    """Compare the labels with gold: accuracy (95% CI), macro-F1, per class, confusion, calibration."""
    from ..evaluate import evaluate as run_eval
    m = run_eval(Project.open(project).labeling_project(), annotator)  # after a gold reroute: who labels now
    if json_out:
        json_out.write_text(json.dumps(m, indent=2))
    console.print(f"annotator {m['annotator']}: {m['annotated']} annotated, {m['errors']} errors "
                  f"({m['error_share']:.1%}), {m['with_gold']} with gold")
    lm = m.get("label_mass")  # the share of the model's probability the labels got; needs no gold
    if lm and lm["below"]:
        console.print(f"[yellow]label mass: {lm['below']} of {lm['n']} items ({lm['below_share']:.1%}) gave the "
                      f"labels less than {lm['threshold']:.0%} of the model's probability: the model wanted to say "
                      f"something else; check the prompt[/yellow]", soft_wrap=True)
    elif lm:
        console.print(f"label mass: the labels got {lm['mean']:.1%} of the model's probability on average "
                      f"({lm['n']} items, none below {lm['threshold']:.0%})", soft_wrap=True)
    if m["with_gold"] == 0:
        console.print("no gold labels to compare with (set data.label_field)")
        return
    from ..tasks.kinds import task_kind
    task_kind(m["kind"]).show(m, console)  # each task kind shows its own metrics
    if "confusion" in m:
        c = Table("gold \\ predicted", *m["confusion"]["labels"])
        for label, row in zip(m["confusion"]["labels"], m["confusion"]["matrix"]):
            c.add_row(label, *map(str, row))
        console.print(c)
    if "calibration" in m:
        cal = m["calibration"]
        console.print(f"calibration: ECE {cal['ece']:.3f}, Brier {cal['brier']:.3f}, "
                      f"mean confidence {cal['mean_confidence']:.1%}")
    console.print(f"cost: ${m['cost']:.4f} for {m['annotated']} labels, {m['seconds']:.1f}s of model time "
                  f"({m['seconds_per_item']:.2f}s/item); a human at ${m['human_price_per_label']:.2f}/label: "
                  f"${m['human_cost']:.2f}")


def export(project: Path = ProjectDir,
           fmt: str = typer.Option("jsonl", "--format", "-f",
                                   help="jsonl, csv, parquet, conll (NER: token<TAB>tag, errors left out), or "
                                        "label-studio (tasks JSON: a prediction per annotator, people's answers as "
                                        "annotations, queued items marked needs_review; the labeling config "
                                        "beside it as .xml), or argilla (an Argilla v2 dataset folder, as "
                                        "rg.Dataset.to_disk writes it: load with rg.Dataset.from_disk)"),
           out: Path = typer.Option(None, "--out", "-o", help="file to write (default: labels.FORMAT in the project; "
                                                              "argilla: the folder labels_argilla)")) -> None:
    """Write every record of the data file with its label, confidence, distribution and any error.

    A record's label is the one annotated as the project asks now (its current text, prompt and
    annotator); a record with none yet is written without a label. The file is replaced only
    once it is complete."""
    from dataclasses import replace

    from ..data.writers import FORMATS, export_annotations
    fmt = "labelstudio" if fmt == "label-studio" else fmt
    if fmt not in (*FORMATS, "argilla"):
        raise typer.BadParameter(f"'{fmt}': use one of {', '.join((*FORMATS, 'argilla'))}", param_hint="--format")
    p = Project.open(project).labeling_project()  # after a gold reroute: the stage that labels now
    out = out or p.config.resolve("labels_argilla" if fmt == "argilla" else
                                  f"labels.{'json' if fmt == 'labelstudio' else fmt}")
    records = p.read_data()  # the data file as it is now: removed rows are not exported
    current = p.current_annotations(records)
    if fmt == "conll" and hasattr(p.task, "tokens"):  # raw-text NER input: write the tokens it was labeled on
        records = [replace(r, fields={"tokens": p.task.tokens(r)}) for r in records]
    routed, queued = None, [rid for rid, _, _ in p.store.review_queue()]
    if p.config.route.stages:  # a finished route: its labels, with who labeled each and whether certified
        from ..routing.router import route_name
        routed = p.store.routed(route_name(p)) or None
    if fmt == "labelstudio":
        n = _export_labelstudio(p, records, current, out, routed, queued)
        console.print(f"wrote {n} tasks to {out} and their labeling config to {out.with_suffix('.xml')}")
        return
    if fmt == "argilla":
        from ..data.argilla import records_for, settings_for, write_dataset
        machine, people = _answers_by_annotator(p, records, current)
        items = records_for(p.task, records, machine, people, routed, queued)
        write_dataset(out, p.config.root.resolve().name or "labelwise", settings_for(p.task, p.config.review.overlap), items)
        console.print(f"wrote {len(items)} records to the Argilla dataset folder {out} "
                      "(rg.Dataset.from_disk(path, client=...) loads it)")
        return
    people = p.people_labels({r.id for r in records})  # people's answers label the items they answered
    n = export_annotations(records, list(current.values()), out, fmt, routed, queued, people)
    console.print(f"wrote {n} {'sentences' if fmt == 'conll' else 'rows'} to {out}"
                  + (f" ({sum(len(v) for v in people.values())} answers by {len(people)} people used)" if people else ""))


def import_labels(file: Path = typer.Argument(..., help="a Label Studio JSON export of tasks labelwise exported"),
                  project: Path = ProjectDir,
                  fmt: str = typer.Option("label-studio", "--format", "-f", help="label-studio (the JSON export)")
                  ) -> None:
    """Read people's labels back: every finished annotation of a Label Studio export becomes an
    annotation by `human/NAME` (NAME: the annotator's email before the @), as if given on the
    review page; importing again replaces each person's earlier answer to the item."""
    from ..data.labelstudio import read_export
    from ..review.answers import check_label, human_annotation, label_cost
    if fmt not in ("label-studio", "labelstudio"):
        raise typer.BadParameter("only label-studio can be imported", param_hint="--format")
    p = Project.open(project)
    records = {r.id: r for r in p.load_records()}
    rows = read_export(file, p.task, records)
    done, bad = 0, []
    for rid, who, label, secs in rows:
        try:
            lab = check_label(p.task, records[rid], label)
        except ValueError as e:
            bad.append(f"{rid} ({who}): {e}")
            continue
        cost = label_cost(secs, p.config.review.price_per_hour, p.config.human_price_per_label)
        p.store.put_human_answer(human_annotation(p.task, records[rid], who, lab, secs, cost), who, None)
        done += 1
    people = sorted({who for _, who, _, _ in rows})
    console.print(f"imported {done} answer(s) by {len(people)} people ({', '.join(people) or 'nobody'}) from {file}")
    for b in bad[:10]:
        console.print(f"[yellow]left out:[/] {b}", highlight=False)
    if bad:
        raise typer.Exit(2)


def _answers_by_annotator(p: Project, records: list, current: dict) -> tuple[dict, dict]:
    """(machine, people): annotator id -> {record id: Annotation} for the project's annotator
    first (as asked now), then every other with the same prompt template (latest answer each);
    reviewer -> {record id: Annotation} for people."""
    machine: dict[str, dict] = {p.annotator.id: dict(current)}
    people: dict[str, dict] = {}
    ids = {r.id for r in records}
    for a in p.store.annotations(template_hash=p.task.template_hash):
        if a.record_id not in ids or a.annotator_id == p.annotator.id:
            continue
        if a.annotator_id.startswith("human/"):
            people.setdefault(a.annotator_id.split("/", 1)[1], {})[a.record_id] = a
        else:
            machine.setdefault(a.annotator_id, {})[a.record_id] = a
    return machine, people


def _export_labelstudio(p: Project, records: list, current: dict, out: Path, routed: dict | None,
                        queued: list) -> int:
    """Label Studio tasks: a prediction per machine annotator (the project's annotator first, then
    every other with the same prompt template, latest answer each), people's answers as
    annotations, and the labeling config beside them (.xml)."""
    from ..data.labelstudio import config_for, tasks, write_tasks
    machine, people = _answers_by_annotator(p, records, current)
    items = tasks(p.task, records, machine, people, routed, queued)
    write_tasks(out, items, config_for(p.task))
    return len(items)
