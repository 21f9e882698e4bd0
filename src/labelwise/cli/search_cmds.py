"""`labelwise search`: relevance data from retrieval collections."""
from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console

console = Console()
app = typer.Typer(no_args_is_help=True, help="Search relevance: build (query, document) pairs to grade from a "
                  "BEIR folder (corpus.jsonl, queries.jsonl, qrels/SPLIT.tsv) with BM25 candidates.")


@app.command("pairs")
def pairs(folder: Path = typer.Argument(..., help="a BEIR folder"),
          out: Path = typer.Option(..., "--out", "-o", help="the pairs file to write (JSONL; a relevance project's "
                                   "data.path)"),
          k: int = typer.Option(20, "--k", min=1, help="BM25 candidates per query"),
          split: str = typer.Option("test", help="which qrels/SPLIT.tsv"),
          queries: int = typer.Option(None, "--queries", min=1, help="a seeded random choice of this many queries"),
          seed: int = typer.Option(0),
          unjudged: str = typer.Option("0", help="grade of a candidate the qrels do not list: 0 (the collection "
                                       "judged everything relevant), or 'none' to leave it without a label"),
          analyzer: str = typer.Option("english", help="BM25 tokens: english (stop words dropped, Snowball stems) "
                                       "or plain (every lower-cased word; other languages)")) -> None:
    """Each query's BM25 top-k documents as pairs, with the judged grade where there is one."""
    from ..search.bm25 import ANALYZERS
    from ..search.pairs import build_pairs, write_jsonl
    if analyzer not in ANALYZERS:
        raise typer.BadParameter(f"'{analyzer}': use one of {', '.join(ANALYZERS)}", param_hint="--analyzer")
    rows = build_pairs(folder, k=k, split=split, max_queries=queries, seed=seed,
                       unjudged=None if unjudged.lower() == "none" else int(unjudged), analyzer=analyzer)
    write_jsonl(rows, out)
    judged = sum(1 for r in rows if r["label"] not in (None, 0))
    console.print(f"wrote {len(rows)} pairs for {len({r['query_id'] for r in rows})} queries to {out} "
                  f"({judged} judged relevant)")


def register(parent: typer.Typer) -> None:
    parent.add_typer(app, name="search")
