"""How `labelwise eval` shows a relevance project: grade agreement, then the ranking."""
from __future__ import annotations

from typing import Any

from rich.table import Table


def _f(v: Any, fmt: str = ".3f") -> str:
    return "n/a" if v is None else format(v, fmt)


def show_relevance(m: dict[str, Any], console: Any) -> None:
    kappa = _f(m.get("weighted_kappa"))
    console.print(f"grades: {m['n']} pairs with a human judgement; exact agreement {_f(m['accuracy'], '.1%')}, "
                  f"quadratic-weighted Cohen's kappa {kappa}")
    if m.get("grade_confusion"):
        t = Table("judged \\ LLM", *m["grade_labels"])
        for g, row in zip(m["grade_labels"], m["grade_confusion"]):
            t.add_row(g, *map(str, row))
        console.print(t)
    r = m["ranking"]
    console.print(f"ranking by the LLM's expected grade over {r['queries']} queries with a relevant document: "
                  f"nDCG@10 {_f(r['ndcg@10'])}, MRR@10 {_f(r['mrr@10'])}, Recall@100 {_f(r['recall@100'])}, "
                  f"MAP {_f(r['map'])}")
