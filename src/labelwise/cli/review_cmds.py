"""`labelwise review`: the review web app for people, and its reviewers."""
from __future__ import annotations

import getpass
from pathlib import Path

import typer
from rich.console import Console

from ..errors import ConfigError
from ..project import Project

console = Console()
app = typer.Typer(invoke_without_command=True, no_args_is_help=False, help=(
    "People label what the machines could not certify, on a local web page.\n\n"
    "`labelwise review -p PROJECT` starts the page on 127.0.0.1 and prints one login link per reviewer "
    "(new links each start: old ones stop working). `labelwise review add-user NAME` adds a reviewer. "
    "Keys on the page: 1-9 pick a label, Enter accepts the pre-annotation, X rejects, S skips, U undoes, "
    "? shows the keys. Answers are annotations by `human/NAME`: `eval`, `quality`, the loop and the router "
    "use them like any annotator's."))

ProjectDir = typer.Option(Path("."), "--project", "-p", help="folder with labelwise.yaml")


def login_link(host: str, port: int, token: str) -> str:
    shown = "127.0.0.1" if host in ("0.0.0.0", "") else host
    return f"http://{shown}:{port}/login?token={token}"


def add_reviewer(p: Project, name: str) -> str:
    """Add (or re-key) a reviewer; returns their new login token."""
    from ..review.answers import reviewer_name_ok
    from ..review.server import new_token, token_hash
    if not reviewer_name_ok(name):
        raise ConfigError(f"reviewer name {name!r}: use letters, digits, '-', '_' or '.', at most 64", field="name")
    token = new_token()
    p.store.add_reviewer(name, token_hash(token))
    return token


@app.callback()
def review(ctx: typer.Context, project: Path = ProjectDir,
           host: str = typer.Option("127.0.0.1", help="address to listen on; anything but 127.0.0.1 lets other "
                                    "machines reach the page (put it behind TLS then)"),
           port: int = typer.Option(8765, help="port to listen on"),
           select: str = typer.Option("queued", help="what to review besides the queue the router, `quality --queue` "
                                      "and second looks fill: queued (nothing more), all (every annotated item), "
                                      "uncertain:M (pre-annotation margin under M)")) -> None:
    """Start the review page (a local web app) for the project's queue."""
    if ctx.invoked_subcommand is not None:
        ctx.obj = {"project": project, "host": host, "port": port}
        return
    import uvicorn

    from ..review.server import ReviewState, make_app
    p = Project.open(project)
    names = p.store.reviewers() or [_default_name()]
    links = {n: login_link(host, port, add_reviewer(p, n)) for n in names}
    state = ReviewState(p.labeling_project(), select=select)
    queue = state.queue(names[0])
    console.print(f"review queue: {len(queue)} item(s) for {names[0]} (overlap {p.config.review.overlap}, "
                  f"gold share {p.config.review.gold_share:.0%})")
    for n, link in links.items():
        console.print(f"  {n}: {link}", highlight=False, soft_wrap=True)
    if host not in ("127.0.0.1", "localhost", "::1"):
        console.print(f"[yellow]listening on {host}: other machines can reach this page; the links are the only "
                      "key, so send them privately[/]")
    console.print("Ctrl-C stops the page; every answer is saved as it is given.")
    uvicorn.run(make_app(state), host=host, port=port, log_level="warning")


@app.command("add-user")
def add_user(name: str = typer.Argument(..., help="the reviewer's name (their answers are by human/NAME)"),
             project: Path = ProjectDir,
             port: int = typer.Option(8765, help="the port the page runs on, for the printed link")) -> None:
    """Add a reviewer (or give one a new login link, which ends their old one)."""
    p = Project.open(project)
    token = add_reviewer(p, name)
    console.print(f"{name}: {login_link('127.0.0.1', port, token)}", highlight=False, soft_wrap=True)
    console.print("(`labelwise review` prints fresh links for everyone each time it starts)")


def _default_name() -> str:
    try:
        name = getpass.getuser()
    except Exception:  # noqa: BLE001 -- no user name in this environment
        name = "reviewer"
    from ..review.answers import reviewer_name_ok
    return name if reviewer_name_ok(name) else "reviewer"


def register(parent: typer.Typer) -> None:
    parent.add_typer(app, name="review")
