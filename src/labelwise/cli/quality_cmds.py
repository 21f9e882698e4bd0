"""Quality commands: `annotators compare` (which LLM to label with) and `leakage` (has it seen
the data before)."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

from ..project import Project
from .project_cmds import ProjectDir

console = Console()
annotators_app = typer.Typer(no_args_is_help=True, help="Choose an annotator: compare LLMs on your own gold data.")


COMPARE_HELP = (
    'Label the same gold sample with each annotator, K times, and compare them.\n\n'
    "Per annotator: the task's quality against gold (from the first run, with a 95% interval where the "
    'task gives one), the share of items stored as errors, consistency over the K runs, seconds, tokens '
    'and money per item, and money per 1,000 labels.\n\n'
    'Consistency: "same in all K" is the share of items with the identical label in every run; "pairwise" '
    "is the mean share of agreeing pairs of runs (gentler); Fleiss' kappa (single-label tasks) is that "
    'agreement beyond chance (1 = perfect, 0 = chance). An error counts as its own outcome.\n\n'
    'Careful: the embedded llamacpp backend scores choices from the logits and generates greedily, so its '
    'repeats are identical by construction, whatever annotator.temperature says; such rows are flagged '
    '"deterministic" and their 100% consistency means nothing. Repeats are stored as separate annotations '
    '(repeat 0..K-1); repeat 0 is the one `annotate` and `eval` use, so runs already paid for are reused. '
    'Writes compare.json in the project folder.'
)

LEAKAGE_HELP = (
    "Probe whether the project's annotator saw this dataset in pretraining (contamination).\n\n"
    'Two probes per record: (1) "name the source": the model sees the sample and names the public dataset '
    'it comes from; a hit is an answer containing a --dataset-name (case and punctuation ignored). (2) '
    '"completion": the model sees the first half of the text and continues it; exact = its answer starts '
    'with the true next words, near = at least 90% similar over their length. Both run again on a control '
    'set: the same samples with their words shuffled, which no model can have memorised.\n\n'
    "How to read it: compare real with control. A real rate whose 95% interval lies above the control's "
    'is evidence of leakage; overlapping intervals are not (probe more records). A model that guesses the '
    'dataset from the topic alone scores on control too. A hit means the labels may be easier for this '
    'model than for new data; no hit proves nothing.\n\n'
    'Every prompt and answer goes to leakage.jsonl, the summary to leakage.json. Calls go through the '
    'budget, the cache and the ledger; none is stored as an annotation.'
)


def register(app: typer.Typer) -> None:
    app.add_typer(annotators_app, name="annotators")
    annotators_app.command("compare", help=COMPARE_HELP)(compare)
    app.command(help=LEAKAGE_HELP)(leakage)


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{x:.1%}"


def _num(x: float | None, fmt: str = ".3f") -> str:
    return "-" if x is None else format(x, fmt)


def _headline(r: dict[str, Any]) -> str:
    h = r["headline"]
    if not h:
        return "no gold"
    ci = r["metrics"].get(f"{h['name']}_ci95")
    ci_txt = f" ({ci[0]:.0%}-{ci[1]:.0%})" if ci else ""
    return f"{h['name']} {h['value']:.1%}{ci_txt}"


def compare(project: Path = ProjectDir,
            annotator: list[str] = typer.Option(
                None, "--annotator", "-a", help="BACKEND:MODEL to compare, repeatable, e.g. "
                "-a llamacpp:smollm2-135m-instruct -a openai:gpt-4o-mini (openai uses annotator.base_url/api_key_env of the project); "
                "default: the project's own annotator"),
            sample: int = typer.Option(None, "--sample", "-n", min=1,
                                       help="gold items to use, a seeded random choice (default: all with gold)"),
            repeats: int = typer.Option(3, "--repeats", "-k", min=1, help="times each annotator labels the sample"),
            seed: int = typer.Option(0, help="seed of the sample choice"),
            vary_examples: bool = typer.Option(
                False, "--vary-examples", help="repeats 2..K draw different random few-shot examples: consistency "
                "under a change of examples, the only thing repeats can show for a deterministic backend")) -> None:
    """Label one gold sample with each annotator K times; compare quality, consistency, cost."""
    from ..compare import compare_annotators
    p = Project.open(project)

    def progress(name: str, r: int, s: Any) -> None:
        console.print(f"{name} run {r + 1}/{repeats}: {s.annotated} labeled ({s.already_done} already done), "
                      f"{s.calls} calls, {s.from_cache} cached, {s.errors} errors, {s.seconds:.1f}s", highlight=False)

    out = compare_annotators(p, annotator or (), sample=sample, repeats=repeats, seed=seed,
                             vary_examples=vary_examples, on_run=progress)
    path = p.config.resolve("compare.json")
    path.write_text(json.dumps(out, indent=2, default=str), encoding="utf-8")
    t = Table("annotator", "quality (95% CI)", "errors", f"same in all {repeats}", "pairwise", "Fleiss κ",
              "s/item", "tokens/item", "$/1k labels", "repeats",
              title=f"{out['sample']} items ({out['with_gold']} with gold, seed {seed}), {repeats} runs each")
    for r in out["annotators"]:
        c = r["consistency"]
        t.add_row(r["annotator"], _headline(r), _pct(r["error_share"]), _pct(c["all_equal"]), _pct(c["pairwise"]),
                  _num(c["fleiss_kappa"]), _num(r["seconds_per_item"], ".2f"), _num(r["tokens_per_item"], ".0f"),
                  "unknown" if r["cost_per_1000"] is None else f"${r['cost_per_1000']:.4f}",
                  r["repeats_kind"])
    console.print(t)
    for r in out["annotators"]:
        if r["repeats_note"]:
            console.print(f"[yellow]{r['annotator']}[/] repeats {r['repeats_kind']}: {r['repeats_note']}",
                          highlight=False)
        if r["stopped"]:
            console.print(f"[yellow]{r['annotator']} stopped:[/] {r['stopped']}", highlight=False)
    console.print(f"wrote {path}")


def leakage(project: Path = ProjectDir,
            n: int = typer.Option(50, "--n", min=1, help="records to probe (a seeded random choice)"),
            dataset_name: list[str] = typer.Option(
                None, "--dataset-name", help="a name or alias of the public dataset the data may come from, "
                "repeatable, e.g. --dataset-name SST-2 --dataset-name 'Stanford Sentiment Treebank'"),
            seed: int = typer.Option(0, help="seed of the record choice and of the control shuffle")) -> None:
    """Probe whether the project's annotator saw this dataset in pretraining (see LEAKAGE_HELP)."""
    from ..leakage import probe_leakage
    p = Project.open(project)
    names = dataset_name or []
    s = probe_leakage(p, n=n, dataset_names=names, seed=seed)
    t = Table("probe", "real: rate (95% CI)", "control: rate (95% CI)", "reading",
              title=f"{s['annotator']}: {s['records']} records, {s['answered']}/{s['probes']} probes answered")
    labels = {"name_hit": "names the dataset", "completion_exact": "completion exact",
              "completion_near": "completion near (>=0.9)"}
    for key, row in s["rates"].items():
        if key == "name_hit" and not names:
            t.add_row(labels[key], "not scored: give --dataset-name", "", "")
            continue
        t.add_row(labels[key], _rate(row["real"]), _rate(row["control"]), row["reading"])
    console.print(t)
    top = ", ".join(f"{a!r} x{c}" for a, c in s["name_answers_real"][:3])
    if top:
        console.print(f"most frequent dataset names given (real): {top}", highlight=False)
    if s["errors"]:
        console.print(f"[yellow]{s['errors']} probe(s) failed or were not asked[/] (see leakage.jsonl)")
    console.print(f"wrote {p.config.resolve('leakage.jsonl')} and leakage.json")


def _rate(r: dict[str, Any]) -> str:
    if not r["n"]:
        return "-"
    lo, hi = r["ci95"]
    return f"{r['rate']:.1%} ({lo:.0%}-{hi:.0%}) {r['hits']}/{r['n']}"
