"""The route report: one self-contained HTML file (plot inline) and the JSON it was drawn from.

Per stage: threshold, coverage, accuracy on the calibration gold and its bound, accuracy on
held-out gold it never tuned on, items labeled, calls and money; a risk-coverage plot per
stage with the target and the chosen threshold; the finished dataset; and the cost of labeling
every item with each annotator alone, or by people.
"""
from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Any

from .html import _png

_STYLE = ("<style>body{font-family:system-ui,sans-serif;max-width:1020px;margin:2em auto;color:#222}"
          "table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}"
          "th{background:#f4f4f4}td:first-child{text-align:left}img{max-width:100%}.note{color:#555}</style>")


def _pct(v: float | None) -> str:
    return "–" if v is None else f"{v:.1%}"


def _people_gold(g: dict | None) -> str:
    """People's accuracy on the gold that reached them, with its 95% interval."""
    if not g or not g["answered"]:
        return "no gold answered yet"
    lo, hi = g["ci95"]
    return f"{g['accuracy']:.1%} of {g['answered']} gold ({lo:.0%}–{hi:.0%})"


def _offered(s: dict) -> str:
    acc = s.get("holdout_offered_accuracy")
    return "–" if acc is None else f"{acc:.1%} of {s['holdout_offered']}"


def _per_reviewer(g: dict | None) -> str:
    """One line per reviewer: their own answers on that gold (the majority hides a weak one)."""
    rows = [(name, r) for name, r in ((g or {}).get("per_reviewer") or {}).items() if r["answered"]]
    if not rows:
        return ""
    items = "".join(f"<li>{html.escape(name)}: {_people_gold(r)}</li>" for name, r in rows)
    return f"<p>Each reviewer on the gold that reached people:</p><ul class='note'>{items}</ul>"


def _money(v: float | None) -> str:
    return "–" if v is None else f"${v:,.2f}"


def _risk_coverage_png(summary: dict[str, Any]) -> str | None:
    curves = [s for s in summary["stages"] if s["risk_coverage"]]
    if not curves:
        return None
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(6.4, 3.8))
    for s in curves:
        _, cov, risk = zip(*s["risk_coverage"])
        line, = ax.plot(cov, risk, marker=".", label=s["stage"])
        if s["safe"]:
            ax.plot([s["coverage"]], [1 - s["calibration_accuracy"]], "o", color=line.get_color())
    ax.axhline(1 - summary["target_accuracy"], color="k", ls="--", lw=1, label="allowed error (1 - target)")
    ax.set_xlabel("coverage (share of the gold it was offered)")
    ax.set_ylabel("error of accepted gold items")
    ax.set_title("risk-coverage per stage on its calibration gold (dot: chosen threshold)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    png = _png(fig)
    plt.close(fig)
    return png


def write_route_report(summary: dict[str, Any], out: Path) -> Path:
    """Write ``out`` (HTML) and ``out.with_suffix('.json')``; returns ``out``."""
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".json").write_text(json.dumps(summary, indent=2), encoding="utf-8")
    e = html.escape
    ds = summary["dataset"]
    title = f"labelwise route {summary['run']}"
    parts = [f"<!doctype html><meta charset='utf-8'><title>{e(title)}</title>", _STYLE, f"<h1>{e(title)}</h1>",
             f"<p>Target accuracy {summary['target_accuracy']:.0%}, delta {summary['delta']}. "
             f"{summary['pool']} items to label, {summary['from_gold']} more came with gold.</p>"]
    if summary["rule"] == "quantile":
        parts.append("<p><b>No guarantee:</b> the quantile rule (LLM Chain Ensembles) gives each model an equal share "
                     "of what reaches it, by confidence rank; no gold is used and no label is certified.</p>")
    elif summary["guarantee"]:
        parts.append(f"<p><b>Guarantee:</b> {e(summary['guarantee'])}. {e(summary['stages_at_once'])}.</p>")
    parts.append("<h2>Stages</h2><table><tr><th>stage</th><th>threshold</th><th>gold offered</th>"
                 "<th>coverage</th><th>accuracy (calibration)</th><th>error bound</th><th>held-out accuracy</th>"
                 "<th>held-out accuracy, all it was offered</th>"
                 "<th>items labeled</th><th>calls (this run)</th><th>answers in the ledger</th><th>money</th></tr>")
    for s in summary["stages"]:
        if s["kind"] == "people":
            parts.append(f"<tr><td>{e(s['stage'])} (people)</td><td>–</td><td>{s['gold_offered']}</td><td>–</td>"
                         f"<td>–</td><td>–</td><td>{_people_gold(s['people_gold'])}</td><td>–</td>"
                         f"<td>{s['labeled']} labeled, {s['queued']} queued</td><td>–</td><td>–</td><td>–</td></tr>")
            continue
        th = "rank share" if summary["rule"] == "quantile" else "none safe" if not s["safe"] else f"{s['threshold']:.3f}"
        held = "–" if s["holdout_accuracy"] is None else f"{s['holdout_accuracy']:.1%} of {s['holdout_accepted']}"
        bound = "–" if s["error_bound"] is None else f"{s['error_bound']:.3f}"
        parts.append(f"<tr><td>{e(s['stage'])} ({e(s['kind'])})</td><td>{th}</td><td>{s['gold_offered']}</td>"
                     f"<td>{_pct(s['coverage'])}</td><td>{_pct(s['calibration_accuracy'])}</td><td>{bound}</td>"
                     f"<td>{held}</td><td>{_offered(s)}</td><td>{s['labeled']}</td><td>{s['calls']}</td><td>{s['paid_in_project']}</td>"
                     f"<td>{_money(s['money'])}</td></tr>")
    parts.append("</table><ul class='note'>")
    for s in summary["stages"]:
        if s["reason"]:
            extra = f" Trained on {s['trained_on']} labels of the next stage." if s["trained_on"] else ""
            if s["batches"] > 1:
                extra += f" Recalibrated before each of {s['batches']} batches, at delta {s['delta']:.4g} each."
            parts.append(f"<li><b>{e(s['stage'])}</b>: {e(s['reason'])}.{e(extra)}</li>")
    parts.append("</ul>")
    parts += [_per_reviewer(s["people_gold"]) for s in summary["stages"] if s["kind"] == "people"]
    png = _risk_coverage_png(summary)
    if png:
        parts.append(f"<img alt='risk-coverage per stage' src='data:image/png;base64,{png}'>")
    if summary["batches"]:
        parts.append("<h2>Continual learning, per batch</h2><table><tr><th>batch</th><th>items</th>"
                     "<th>threshold</th><th>kept by the small model</th><th>labels it then learned</th></tr>")
        for b in summary["batches"]:
            t = "none safe" if b["threshold"] is None else f"{b['threshold']:.3f}"
            parts.append(f"<tr><td>{b['batch']}</td><td>{b['items']}</td><td>{t}</td><td>{b['kept']}</td>"
                         f"<td>{b['learned']}</td></tr>")
        parts.append("</table>")
    parts.append("<h2>The finished dataset</h2><table>"
                 f"<tr><td>certified by a model stage</td><td>{ds['certified'] - summary['from_gold'] - ds['from_people']}</td></tr>"
                 f"<tr><td>labeled by people (their majority)</td><td>{ds['from_people']}</td></tr>"
                 f"<tr><td>labeled by the last stage, not certified</td><td>{ds['uncertified']}</td></tr>"
                 f"<tr><td>waiting for people</td><td>{ds['queued_for_people']}</td></tr>"
                 f"<tr><td>not labeled (stopped)</td><td>{ds['unrouted']}</td></tr>"
                 f"<tr><td>gold items (their own label)</td><td>{summary['from_gold']}</td></tr></table>")
    if ds["holdout_n"]:
        parts.append(f"<p>On {ds['holdout_n']} held-out gold items (never used to choose a threshold) the machine "
                     f"stages kept {_pct(ds['holdout_machine_share'])}, with accuracy "
                     f"{_pct(ds['holdout_machine_accuracy'])}.</p>")
    if ds["stopped"]:
        parts.append(f"<p><b>Stopped:</b> {e(ds['stopped'])}</p>")
    parts.append("<h2>Cost against the alternatives</h2><table><tr><th>way to label the items</th><th>LLM calls</th>"
                 "<th>labels by people</th><th>money (people at the stated price)</th><th>model time</th></tr>")
    for c in summary["cost"]:
        secs = "–" if c.get("seconds") is None else f"{c['seconds'] / 60:.1f} min"
        parts.append(f"<tr><td>{e(c['way'])}</td><td>{c['calls']}</td><td>{c.get('people_labels', 0)}</td>"
                     f"<td>{_money(c['money'])}</td><td>{secs}</td></tr>")
    parts.append("</table><p class='note'>An annotator on every item: its measured cost per answer in this "
                 "project's ledger times the items ('–' where it was never paid for here). Its accuracy on every "
                 "item is not measured by a route; <code>bench/bench_route.py</code> measures it on public data.</p>")
    parts.append(f"<p>All figures: <code>{e(out.with_suffix('.json').name)}</code>.</p>")
    out.write_text("\n".join(parts), encoding="utf-8")
    return out
