"""The quality report: one self-contained HTML file (plot inline) and the JSON it was drawn from."""
from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Any

from .html import _png
from .route_html import _STYLE, _pct


def _num(v: float | None) -> str:
    return "–" if v is None else f"{v:.3f}"


def _distribution_png(q: dict[str, Any]) -> str | None:
    labels = sorted(set(q["label_distribution"]) | set(q["gold_distribution"]))
    if not labels:
        return None
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np
    x = np.arange(len(labels))
    given = [q["label_distribution"].get(k, 0) for k in labels]
    gold = [q["gold_distribution"].get(k, 0) for k in labels]
    fig, ax = plt.subplots(figsize=(max(4.0, 0.8 * len(labels) + 2), 3.2))
    ax.bar(x - 0.2, given, 0.4, label="labels given")
    if any(gold):
        ax.bar(x + 0.2, gold, 0.4, label="gold")
    ax.set_xticks(x, labels, rotation=30, ha="right", fontsize=8)
    ax.set_ylabel("items")
    ax.legend(fontsize=7)
    ax.set_title("label distribution")
    png = _png(fig)
    plt.close(fig)
    return png


def _rate(r: dict[str, Any] | None) -> str:
    if not r or not r.get("n"):
        return "–"
    return f"{r['rate']:.0%} ({r['hits']}/{r['n']})"


def write_quality_report(q: dict[str, Any], out: Path) -> Path:
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".json").write_text(json.dumps(q, indent=2, default=str), encoding="utf-8")
    e = html.escape
    parts = ["<!doctype html><meta charset='utf-8'><title>labelwise quality</title>", _STYLE,
             "<h1>labelwise quality report</h1>",
             f"<p>{q['items']} items, {q['annotated']} annotated by {e(q['annotator'])} with the current prompt, "
             f"{q['errors']} errors; {q['gold_items']} with gold. Created {e(q['created'])}.</p>"]
    parts.append(f"<h2>Gold accuracy per annotator</h2><p class='note'>Exact one-sided Clopper–Pearson bounds at "
                 f"{1 - q['delta']:.0%} each side; an errored answer counts as wrong.</p>")
    if q["gold_accuracy"]:
        parts.append("<table><tr><th>annotator</th><th>gold items</th><th>accuracy</th><th>lower</th><th>upper</th></tr>")
        for r in q["gold_accuracy"]:
            parts.append(f"<tr><td>{e(r['annotator'])}</td><td>{r['gold_items']}</td><td>{_pct(r['accuracy'])}</td>"
                         f"<td>{_pct(r['lower'])}</td><td>{_pct(r['upper'])}</td></tr>")
        parts.append("</table>")
    else:
        parts.append("<p>No gold items were annotated: add a label column or a <code>gold:</code> file.</p>")
    if q["per_domain"]:
        parts.append("<h3>Per domain</h3><table><tr><th>domain</th><th>gold items</th><th>accuracy</th></tr>" + "".join(
            f"<tr><td>{e(d)}</td><td>{v['n']}</td><td>{_pct(v['accuracy'])}</td></tr>" for d, v in q["per_domain"].items())
            + "</table>")
    parts.append("<h2>Agreement</h2>")
    ag = q["agreement"]
    if "note" in ag:
        parts.append(f"<p>{e(ag['note'])}.</p>")
    else:
        parts.append(f"<p>Over {ag['items']} items: Fleiss' kappa {_num(ag['fleiss_kappa'])} (on the "
                     f"{ag['fleiss_items']} items every annotator labeled), Krippendorff's alpha "
                     f"({e(ag['level'])}, missing ratings allowed) {_num(ag['krippendorff_alpha'])}.</p>"
                     "<table><tr><th>annotator a</th><th>annotator b</th><th>shared items</th><th>agreement</th>"
                     "<th>Cohen's kappa</th></tr>" + "".join(
                         f"<tr><td>{e(p['a'])}</td><td>{e(p['b'])}</td><td>{p['items']}</td><td>{_pct(p['agreement'])}"
                         f"</td><td>{_num(p['cohen_kappa'])}</td></tr>" for p in ag["pairs"]) + "</table>")
    parts.append("<h2>Suspect labels</h2>")
    li = q["label_issues"]
    if "skipped" in li:
        parts.append(f"<p>Not computed: {e(li['skipped'])}.</p>")
    elif li.get("level") == "token":
        tail = (f" Of the {li['listed_with_gold']} listed tokens that have gold, {li['listed_that_are_wrong']} are "
                "indeed wrong." if li["listed_with_gold"] else "")
        parts.append(f"<p>Token-level confident learning (cleanlab.token_classification) on out-of-fold marginals of "
                     f"the <code>{e(li['model'])}</code> tagger: {li['flagged']} of {li['checked']} tokens in "
                     f"{li['sentences']} sentences flagged as label issues. Listed: the tokens of lowest label "
                     f"quality (self-confidence), flagged or not, most suspect first.{tail}</p><table><tr><th>item</th>"
                     "<th>context</th><th>tag</th><th>suggested</th><th>gold</th><th>quality</th><th>flagged</th></tr>"
                     + "".join(
                         f"<tr><td>{e(s['record_id'])}</td><td style='text-align:left'>{e(s['text'])}</td>"
                         f"<td>{e(s['label'])}</td><td>{e(s['suggested'])}</td>"
                         f"<td>{e(str(s['gold'])) if s['gold'] is not None else '–'}</td><td>{s['quality']:.3f}</td>"
                         f"<td>{'yes' if s['flagged'] else ''}</td></tr>" for s in li["items"]) + "</table>")
    else:
        tail = (f" Of the {li['flagged_with_gold']} flagged items that have gold, {li['flagged_that_are_wrong']} are "
                "indeed wrong." if li["flagged_with_gold"] else "")
        parts.append(f"<p>Confident learning (cleanlab) on out-of-fold probabilities of the <code>{e(li['model'])}"
                     f"</code> small model: {li['flagged']} of {li['checked']} labels flagged, most suspect first."
                     f"{tail}</p><table><tr><th>item</th><th>text</th><th>label</th><th>suggested</th><th>gold</th>"
                     "<th>quality</th></tr>" + "".join(
                         f"<tr><td>{e(s['record_id'])}</td><td style='text-align:left'>{e(s['text'])}</td>"
                         f"<td>{e(str(s['label']))}</td><td>{e(str(s['suggested']))}</td>"
                         f"<td>{e(str(s['gold'])) if s['gold'] is not None else '–'}</td><td>{s['quality']:.3f}</td></tr>"
                         for s in li["items"]) + "</table>")
    cr = q.get("crowd") or {"skipped": "not computed"}
    parts.append("<h2>Several annotators: CROWDLAB</h2>")
    if "skipped" in cr:
        parts.append(f"<p>Not computed: {e(cr['skipped'])}.</p>")
    else:
        parts.append(f"<p>cleanlab's CROWDLAB over every annotator's labels (repeats count as annotators), with "
                     f"out-of-fold probabilities of the <code>{e(cr['model'])}</code> small model fit on every "
                     "annotation: each annotator's estimated quality, and the items whose consensus is least "
                     "sure.</p>"
                     "<table><tr><th>annotator</th><th>quality</th><th>agreement with consensus</th>"
                     "<th>worst class</th></tr>" + "".join(
                         f"<tr><td>{e(a['annotator'])}</td><td>{a['quality']:.3f}</td>"
                         f"<td>{_pct(a['agreement_with_consensus'])}</td><td>{e(str(a['worst_class']))}</td></tr>"
                         for a in cr["annotators"]) + "</table>"
                     "<table><tr><th>item</th><th>consensus</th><th>consensus quality</th><th>agreement</th>"
                     "<th>annotations</th></tr>" + "".join(
                         f"<tr><td>{e(i['record_id'])}</td><td>{e(str(i['consensus']))}</td><td>{i['quality']:.3f}</td>"
                         f"<td>{_pct(i['agreement'])}</td><td>{i['annotations']}</td></tr>" for i in cr["items"][:20])
                     + "</table>")
    t = q["text"]
    parts.append("<h2>Data</h2>"
                 f"<p>Characters per item: min {t['chars_min']}, median {t['chars_median']:.0f}, max {t['chars_max']}; "
                 f"{t['exact_duplicates']} exact duplicates in {t['duplicate_groups']} groups (case and surrounding "
                 "space ignored).</p>")
    nd = q.get("near_duplicates") or {"skipped": "not computed"}
    if "skipped" in nd:
        parts.append(f"<p>Near-duplicates not computed: {e(nd['skipped'])}.</p>")
    else:
        part = "" if nd["checked"] == nd["of"] else f" (the first {nd['checked']:,} of {nd['of']:,} items)"
        parts.append(f"<p>Near-duplicates{part}: {nd['pairs']} pairs of different texts with cosine similarity at or "
                     f"above {nd['threshold']} by <code>{e(nd['encoder'])}</code>, {nd['items_in_pairs']} items "
                     "involved.</p>")
        if nd["top"]:
            parts.append("<table><tr><th>a</th><th>b</th><th>similarity</th><th>text a</th><th>text b</th></tr>" + "".join(
                f"<tr><td>{e(d['a'])}</td><td>{e(d['b'])}</td><td>{d['similarity']:.3f}</td>"
                f"<td style='text-align:left'>{e(d['text_a'])}</td><td style='text-align:left'>{e(d['text_b'])}</td></tr>"
                for d in nd["top"][:20]) + "</table>")
    lk = q.get("leakage") or {"skipped": "not probed"}
    parts.append("<h2>Leakage probes</h2>")
    if "skipped" in lk:
        parts.append(f"<p>{e(lk['skipped'])}.</p>")
    else:
        parts.append(f"<p>From <code>leakage.json</code>: {e(str(lk['annotator']))} on {lk['records']} records, real "
                     "against a shuffled control.</p><table><tr><th>probe</th><th>real</th><th>control</th>"
                     "<th>reading</th></tr>" + "".join(
                         f"<tr><td>{e(k)}</td><td>{_rate(v.get('real'))}</td><td>{_rate(v.get('control'))}</td>"
                         f"<td style='text-align:left'>{e(str(v.get('reading', '')))}</td></tr>"
                         for k, v in lk["rates"].items()) + "</table>")
    png = _distribution_png(q)
    if png:
        parts.append(f"<img alt='label distribution' src='data:image/png;base64,{png}'>")
    parts.append("<h2>Datasheet</h2><table><tr><th>dimension</th><th>answer</th><th>from</th></tr>" + "".join(
        f"<tr><td>{e(d['dimension'])}</td><td style='text-align:left'>{e(d['answer'])}</td><td>{e(d['source'])}</td></tr>"
        for d in q["datasheet"]) + "</table>")
    parts.append(f"<p>All figures: <code>{e(out.with_suffix('.json').name)}</code>.</p>")
    out.write_text("\n".join(parts), encoding="utf-8")
    return out
