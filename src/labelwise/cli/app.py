"""Entry point: builds the typer app from the command modules and turns LabelwiseErrors into
one clear line on stderr (exit code 2) instead of a traceback."""
from __future__ import annotations

import sys

import typer
from rich.console import Console

from ..errors import LabelwiseError, ProjectLocked
from . import check_cmds, demo, loop_cmds, models, project_cmds, quality_cmds, review_cmds, route_cmds, search_cmds
from .exit_codes import BAD_INPUT, HELP, INTERRUPTED, LOCKED

app = typer.Typer(
    name="labelwise", no_args_is_help=True, add_completion=False,
    help="Label datasets with LLMs under a budget, and prove the quality of the labels.\n\n"
         "Typical flow: `labelwise init DIR`, edit DIR/labelwise.yaml, then `labelwise estimate`, "
         "`labelwise annotate`, `labelwise eval`, `labelwise export`. Try `labelwise demo` first.\n\n" + HELP)
project_cmds.register(app)
demo.register(app)
loop_cmds.register(app)
quality_cmds.register(app)
route_cmds.register(app)
check_cmds.register(app)
review_cmds.register(app)
search_cmds.register(app)
app.add_typer(models.app, name="models")


def main() -> None:
    try:
        app()
    except LabelwiseError as e:
        Console(stderr=True).print(f"[bold red]error:[/] {e}", highlight=False, soft_wrap=True)
        sys.exit(LOCKED if isinstance(e, ProjectLocked) else BAD_INPUT)
    except KeyboardInterrupt:
        Console(stderr=True).print("interrupted: every answer received is saved; rerun to go on")
        sys.exit(INTERRUPTED)
    except OSError as e:  # disk full, permissions: a message, not a traceback
        Console(stderr=True).print(f"[bold red]error:[/] {e.filename or ''} {e.strerror or e}", highlight=False)
        sys.exit(BAD_INPUT)


if __name__ == "__main__":
    main()
