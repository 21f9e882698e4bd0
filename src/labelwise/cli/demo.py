"""`labelwise demo`: the whole flow on the bundled Yelp sample with the embedded model."""
from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console

from ..annotators.catalogue import DEFAULT_MODEL
from ..annotators.pull import pull
from ..config import CONFIG_NAME

console = Console()


def register(app: typer.Typer) -> None:
    app.command()(demo)


def demo(directory: Path = typer.Option(Path("demo-project"), "--dir", help="where to create the demo project"),
         model: str = typer.Option(DEFAULT_MODEL, help="catalogue model to annotate with"),
         limit: int = typer.Option(None, help="annotate only the first N of the 200 sentences")) -> None:
    """Pull the model, create a project on 200 bundled Yelp sentences, annotate, evaluate."""
    from . import project_cmds
    console.rule("1/4 model")
    pull(model, progress=lambda s: console.print(f"[dim]{s}[/]"))
    console.rule("2/4 project")
    if not (directory / CONFIG_NAME).exists():  # every argument given: typer's defaults are not values here
        project_cmds.init(directory, task="classification", force=False)
    cfg = directory / CONFIG_NAME
    text = cfg.read_text()
    text = text.replace("  model: qwen2.5-coder-1.5b-instruct", f"  model: {model}")
    if limit:
        text = text.replace("  # limit: 100", f"  limit: {limit}")
    cfg.write_text(text)
    console.rule("3/4 annotate")
    project_cmds.annotate(directory, limit=None, wait=False, runner="local", workers=1)
    console.rule("4/4 evaluate")
    project_cmds.evaluate(directory, json_out=None, annotator=None)
    project_cmds.export(directory, fmt="jsonl", out=None)
