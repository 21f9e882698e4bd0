"""One self-contained HTML file: accuracy against LLM labels bought, per strategy and domain,
the label distribution bought, LLM-label accuracy, and cost against the alternatives."""
from __future__ import annotations

import base64
import html
import io
import json
from pathlib import Path
from typing import Any

from .aggregate import aggregate_rounds


def _png(fig: Any) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    return base64.b64encode(buf.getvalue()).decode()


def _metric_names() -> dict[str, str]:
    from ..tasks.kinds import metric_names  # every task kind names its headline metrics
    return metric_names()


_AXES = {"llm_labels": "LLM labels bought", "money_spent": "money spent on the LLM ($)"}


def _accuracy_plots(agg: dict[str, list[dict[str, Any]]], metric: str, x_key: str = "llm_labels") -> list[tuple[str, str]]:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    domains = sorted({d for rows in agg.values() for row in rows for d in row["test"]})
    out = []
    for d in domains:
        fig, ax = plt.subplots(figsize=(6, 3.6))
        for series, rows in agg.items():
            pts = [(r[x_key], r["test"][d][f"{metric}_mean"], r["test"][d][f"{metric}_std"]) for r in rows
                   if d in r["test"]]
            if not pts:
                continue
            x, y, s = zip(*pts)
            ax.plot(x, y, marker="o", label=series)
            ax.fill_between(x, [a - b for a, b in zip(y, s)], [a + b for a, b in zip(y, s)], alpha=0.15)
        ax.set_xlabel(_AXES[x_key])
        ax.set_ylabel(f"small-model {_metric_names().get(metric, metric)}")
        ax.set_title(f"test domain: {d}")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
        out.append((d, _png(fig)))
        plt.close(fig)
    return out


def write_report(results: list[dict[str, Any]], out: Path, *, pool_size: int, cost_per_llm_label: float,
                 seconds_per_llm_label: float, human_price_per_label: float, title: str = "labelwise report") -> Path:
    agg = aggregate_rounds(results)
    metric = results[0].get("metric", "accuracy") if results else "accuracy"
    name = _metric_names().get(metric, metric)
    figures = {"series": agg, "pool_size": pool_size, "cost_per_llm_label": cost_per_llm_label,
               "seconds_per_llm_label": seconds_per_llm_label, "human_price_per_label": human_price_per_label}
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".json").write_text(json.dumps(figures, indent=2))
    esc = html.escape
    parts = [f"<!doctype html><meta charset='utf-8'><title>{esc(title)}</title>",
             "<style>body{font-family:system-ui,sans-serif;max-width:980px;margin:2em auto;color:#222}"
             "table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}"
             "th{background:#f4f4f4}td:first-child{text-align:left}img{max-width:100%}</style>",
             f"<h1>{esc(title)}</h1>"]
    parts.append(f"<h2>Small-model {esc(name)} against LLM labels bought (mean ± std over seeds)</h2>")
    for d, png in _accuracy_plots(agg, metric):
        parts.append(f"<img alt='{esc(name)} on {esc(d)}' src='data:image/png;base64,{png}'>")
    spent = max((r.get("money_spent", 0.0) for rows in agg.values() for r in rows), default=0.0)
    if spent > 0:
        parts.append(f"<h2>Small-model {esc(name)} against money spent on the LLM</h2>")
        for d, png in _accuracy_plots(agg, metric, "money_spent"):
            parts.append(f"<img alt='{esc(name)} on {esc(d)} against money' src='data:image/png;base64,{png}'>")
    else:
        parts.append("<p>Every LLM call was free (a local model): money spent is $0 at every point, so the "
                     "plots above, against labels bought, are the cost curves; see the model time below.</p>")
    parts.append("<h2>Final round</h2><table><tr><th>series</th><th>seeds</th><th>LLM labels</th>"
                 f"<th>LLM-label {esc(name)}</th><th>label counts</th><th>test {esc(name)} per domain</th>"
                 "<th>stopped early (predictions stable)</th></tr>")
    for series, rows in agg.items():
        last = rows[-1]
        acc = "" if last["llm_label_accuracy"] is None else f"{last['llm_label_accuracy']:.1%}"
        tests = "<br>".join(f"{esc(d)}: {v[metric + '_mean']:.3f} ± {v[metric + '_std']:.3f} (n={v['n']})"
                            for d, v in last["test"].items())
        counts = ", ".join(f"{esc(k)} {v:.0f}" for k, v in last["label_counts"].items())
        stops = sum(r["stable_stops"] for r in rows)
        early = f"{stops} of {rows[0]['seeds']} seeds" if stops else "–"
        parts.append(f"<tr><td>{esc(series)}</td><td>{last['seeds']}</td><td>{last['llm_labels']:.0f}</td>"
                     f"<td>{acc}</td><td>{counts}</td><td>{tests}</td><td>{early}</td></tr>")
    parts.append("</table>")
    bought = max((rows[-1]["llm_labels"] for rows in agg.values()), default=0)
    parts.append("<h2>Cost</h2><table><tr><th>way to label the pool</th><th>labels paid</th><th>money</th>"
                 "<th>model time</th></tr>"
                 f"<tr><td>labelwise (LLM on the selected items, small model on the rest)</td><td>{bought:.0f}</td>"
                 f"<td>${bought * cost_per_llm_label:.2f}</td><td>{bought * seconds_per_llm_label / 60:.1f} min</td></tr>"
                 f"<tr><td>LLM on every item</td><td>{pool_size}</td><td>${pool_size * cost_per_llm_label:.2f}</td>"
                 f"<td>{pool_size * seconds_per_llm_label / 60:.1f} min</td></tr>"
                 f"<tr><td>humans at ${human_price_per_label:.2f}/label</td><td>{pool_size}</td>"
                 f"<td>${pool_size * human_price_per_label:.2f}</td><td>–</td></tr></table>")
    parts.append(f"<p>All figures: <code>{esc(out.with_suffix('.json').name)}</code>.</p>")
    out.write_text("\n".join(parts), encoding="utf-8")
    return out
