"""The review page, rendered on the server: every text goes through ``html.escape``; the script
(its own, no CDN, works offline) reads the item from a JSON island that is escaped for a
<script> element and builds nothing from HTML strings -- it only sets ``textContent`` and
classes -- so an item whose text is markup stays text."""
from __future__ import annotations

import html
import json
from typing import Any

from .script import SCRIPT, STYLE

KEYS = [("1-9", "pick that label (multi-label and NER: toggle / tag the selection; relevance: 0-3 pick the grade)"),
        ("Enter", "accept the pre-annotation (or send what you picked)"), ("X", "reject: no label fits"),
        ("S", "skip for now"), ("U", "undo your last answer"), ("?", "show or hide these keys"),
        ("← →", "NER: move between words; Shift extends the selection"), ("0 / Backspace", "NER: untag the selection")]


def _json_island(data: Any) -> str:
    """JSON that cannot end its <script> element or open a comment, whatever the text holds."""
    raw = json.dumps(data, ensure_ascii=False)
    return raw.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _script(nonce: str) -> str:
    """The page's script, allowed by the response's Content-Security-Policy nonce."""
    return f"<script nonce='{html.escape(nonce)}'>{SCRIPT}</script>"


def _layout(title: str, body: str, csrf: str = "", reviewer: str = "") -> str:
    e = html.escape
    who = (f"<span class='who'>{e(reviewer)} · <a href='/stats'>stats</a> · "
           "<a href='#' id='logout'>log out</a></span>") if reviewer else ""
    return ("<!doctype html><html lang='en'><head><meta charset='utf-8'>"
            "<meta name='viewport' content='width=device-width, initial-scale=1'>"
            f"<meta name='csrf-token' content='{e(csrf)}'><title>{e(title)}</title>"
            f"<style>{STYLE}</style></head><body><header><b>labelwise review</b>{who}</header>"
            f"<main>{body}</main></body></html>")


def item_page(view: dict[str, Any], reviewer: str, csrf: str, left: int, done: int, nonce: str) -> str:
    e = html.escape
    f = view["fields"]
    if view["kind"] == "ner":
        text = "<p class='tokens' id='tokens'>" + " ".join(
            f"<span class='tok' data-i='{i}'>{e(str(t))}</span>" for i, t in enumerate(view["tokens"])) + "</p>"
    else:
        text = "".join(f"<div class='field'><div class='fname'>{e(k)}</div><div class='ftext'>{e(str(v))}</div></div>"
                       for k, v in f.items())
    graded = view["kind"] == "relevance"  # grades are picked by their own digit, 0-3
    labels = "".join(
        f"<button class='label' data-label='{e(l['name'])}'><kbd>{e(l['name']) if graded else i + 1}</kbd> "
        f"{'' if graded else e(l['name'])}"
        + (f"<small>{e(l['description'])}</small>" if l["description"] else "") + "</button>"
        for i, l in enumerate(view["labels"][:9]))
    pre = view.get("pre")
    if pre is None:
        pre_html = ("<p class='pre none'>No pre-annotation" + (f": the model's answer could not be read "
                    f"({e(str(view.get('pre_error')))})" if view.get("pre_error") else "") + ".</p>")
    else:
        shown = " ".join(pre) if isinstance(pre, list) and view["kind"] == "ner" else \
            ", ".join(pre) if isinstance(pre, list) else str(pre)
        conf = "" if view["confidence"] is None else f" · margin {view['confidence']:.2f}"
        bars = "".join(f"<div class='bar'><span class='bl'>{e(str(k))}</span><span class='bv' "
                       f"style='width:{max(1, round(p * 100))}%'></span><span class='bp'>{p:.1%}</span></div>"
                       for k, p in view["distribution"][:9])
        pre_html = (f"<div class='pre'><div>Pre-annotation by <code>{e(str(view.get('pre_by')))}</code>: "
                    f"<b id='pre-label'>{e(shown)}</b>{e(conf)}</div>{bars}</div>")
    routed = "".join(f"<div class='routed'>{e(str(s))}: <b>{e(str(l))}</b></div>" for s, l in view.get("routed", []))
    keys = "".join(f"<tr><td><kbd>{e(k)}</kbd></td><td>{e(v)}</td></tr>" for k, v in KEYS)
    body = (f"<div class='meta'><span>{done} answered · {left} left</span><span class='why'>in the queue because: "
            f"{e(view['reason'])}</span></div>"
            f"<section class='item'>{text}</section>{pre_html}{routed}"
            f"<div class='labels' id='labels'>{labels}</div>"
            "<div class='actions'><button id='accept'><kbd>Enter</kbd> accept</button>"
            "<button id='reject'><kbd>X</kbd> reject</button><button id='skip'><kbd>S</kbd> skip</button>"
            "<button id='undo'><kbd>U</kbd> undo</button><button id='help-btn'><kbd>?</kbd> keys</button></div>"
            "<p id='msg' role='status'></p>"
            f"<div id='help' hidden><table>{keys}</table></div>"
            f"<script id='item-data' type='application/json'>{_json_island(view)}</script>"
            + _script(nonce))
    return _layout("review", body, csrf, reviewer)


def empty_page(reviewer: str, csrf: str, done: int, nonce: str) -> str:
    body = (f"<section class='item done'><h2>Nothing left for you</h2><p>You answered {done} item(s). "
            "Items come back when the router, a quality check or a second look queues more.</p>"
            "<p><a href='/stats'>See the stats</a> · <button id='undo'><kbd>U</kbd> undo your last answer</button>"
            "</p></section><p id='msg' role='status'></p>" + _script(nonce))
    return _layout("review: done", body, csrf, reviewer)


def message_page(title: str, text: str) -> str:
    return _layout(title, f"<section class='item'><h2>{html.escape(title)}</h2><p>{html.escape(text)}</p></section>")


def stats_page(stats: dict[str, Any], reviewer: str, csrf: str, nonce: str) -> str:
    e = html.escape

    def pct(v: float | None) -> str:
        return "–" if v is None else f"{v:.1%}"
    def row(r: dict[str, Any]) -> str:
        g = r["gold"]
        bounds = f"{pct(g['lower'])} – {pct(g['upper'])}" if g["n"] else "–"
        secs = "–" if r["median_seconds"] is None else f"{r['median_seconds']:.1f}"
        return (f"<tr><td>{e(r['reviewer'])}</td><td>{r['answered']}</td><td>{g['n']}</td><td>{pct(g['accuracy'])}</td>"
                f"<td>{bounds}</td><td>{pct(r['agrees_with_pre'])}</td><td>{pct(r['agrees_with_others'])}</td>"
                f"<td>{secs}</td><td>${r['cost']:.2f}</td></tr>")
    rows = "".join(row(r) for r in stats["reviewers"])
    body = (f"<section class='item'><h2>Reviewers</h2><p class='note'>Gold accuracy with exact one-sided bounds at "
            f"{1 - stats['delta']:.0%} each side; agreement with the pre-annotation and with other reviewers on "
            "shared items.</p><table id='stats'><tr><th>reviewer</th><th>answered</th><th>gold answered</th>"
            "<th>gold accuracy</th><th>bounds</th><th>agrees with pre-annotation</th><th>agrees with others</th>"
            f"<th>median s/item</th><th>cost</th></tr>{rows}</table>"
            f"<h2>Items answered by several people</h2><p>{stats['shared_items']} shared, "
            f"{len(stats['disagreements'])} with disagreement (least agreement first):</p>"
            "<table id='disagreements'><tr><th>item</th><th>agreement</th><th>answers</th></tr>" + "".join(
                f"<tr><td><a href='/?item={e(d['record_id'])}'>{e(d['record_id'])}</a></td><td>{pct(d['agreement'])}</td>"
                f"<td>{e('; '.join(f'{k}: {v}' for k, v in d['answers'].items()))}</td></tr>"
                for d in stats["disagreements"][:50]) + "</table>"
            "<p><a href='/'>back to the queue</a></p></section>"
            + _script(nonce))
    return _layout("review: stats", body, csrf, reviewer)
