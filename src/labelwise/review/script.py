"""The review page's own style and script (served inline: no CDN, works offline).

The script reads the item from the page's JSON island, never inserts HTML (only
``textContent``, classes and data attributes), and sends answers with the session's CSRF token.
"""

STYLE = """
body{font:15px/1.45 system-ui,sans-serif;margin:0;background:#f6f7f9;color:#1d2330}
header{display:flex;justify-content:space-between;padding:.6em 1.2em;background:#1d2330;color:#fff}
header a{color:#9cc3ff}main{max-width:860px;margin:1.2em auto;padding:0 1em}
.meta{display:flex;justify-content:space-between;color:#556;font-size:.9em;margin-bottom:.4em}
.item{background:#fff;border-radius:8px;padding:1em 1.2em;box-shadow:0 1px 3px #0002;margin-bottom:.8em}
.fname{font-size:.75em;color:#889;text-transform:uppercase}.ftext{white-space:pre-wrap;margin-bottom:.6em;font-size:1.1em}
.tokens{font-size:1.15em;line-height:2.4}.tok{padding:.15em .2em;border-radius:4px;cursor:pointer;position:relative}
.tok.cur{outline:2px solid #2a6df4}.tok.sel{background:#dde8ff}
.tok.ent{border-bottom:3px solid #e08a00}.tok.ent::after{content:attr(data-type);position:absolute;left:0;top:1.6em;
font-size:.6em;color:#a55f00;white-space:nowrap}
.tok.ent-1{border-color:#2a9d3a}.tok.ent-2{border-color:#b03ad1}.tok.ent-3{border-color:#d13a3a}
.tok.ent-4{border-color:#3ab0d1}.tok.ent-5{border-color:#777}
.pre{background:#fff;border-left:4px solid #2a6df4;padding:.5em .8em;margin-bottom:.8em;border-radius:4px}
.pre.none{border-color:#aaa}.bar{display:flex;align-items:center;gap:.5em;font-size:.85em}
.bl{width:10em;overflow:hidden;text-overflow:ellipsis}.bv{display:inline-block;height:.7em;background:#2a6df4;border-radius:3px}
.bp{color:#556}.routed{font-size:.85em;color:#556}
.labels{display:flex;flex-wrap:wrap;gap:.5em;margin-bottom:.8em}
button{font:inherit;padding:.45em .8em;border:1px solid #c5cad3;border-radius:6px;background:#fff;cursor:pointer}
button.on{background:#2a6df4;color:#fff;border-color:#2a6df4}button small{display:block;font-size:.7em;color:#778}
button.on small{color:#dde}.actions{display:flex;gap:.5em;flex-wrap:wrap}
kbd{font:.8em monospace;background:#eef;border:1px solid #ccd;border-radius:3px;padding:0 .3em}
#msg{min-height:1.4em}#msg.bad{color:#b00020;font-weight:600}#help{background:#fff;padding:.6em;border-radius:6px}
table{border-collapse:collapse}td,th{padding:.25em .6em;border-bottom:1px solid #e3e6eb;text-align:left}
.note{color:#556;font-size:.9em}
"""

SCRIPT = r"""
(function () {
  "use strict";
  const csrf = document.querySelector("meta[name=csrf-token]").content;
  const island = document.getElementById("item-data");
  const item = island ? JSON.parse(island.textContent) : null;
  const msg = document.getElementById("msg");
  const say = (text, bad) => { if (msg) { msg.textContent = text; msg.className = bad ? "bad" : ""; } };
  let busy = false;

  async function post(url, body) {
    const r = await fetch(url, {method: "POST", credentials: "same-origin",
      headers: {"Content-Type": "application/json", "X-CSRF-Token": csrf}, body: JSON.stringify(body || {})});
    let j = {};
    try { j = await r.json(); } catch (e) { /* not JSON */ }
    if (!r.ok) { say(j.error || ("the server said " + r.status), true); return null; }
    return j;
  }
  async function send(action, label) {
    if (busy || !item) return;
    busy = true;
    const j = await post("/api/answer", {record_id: item.record_id, version: item.version, action: action, label: label,
                                         seconds: (performance.now() - shownAt) / 1000});
    busy = false;
    if (j) location.assign(j.next || "/");
  }
  async function skip() {
    if (busy || !item) return;
    busy = true;
    const j = await post("/api/skip", {record_id: item.record_id});
    busy = false;
    if (j) location.assign("/");
  }
  async function undo() {
    if (busy) return;
    busy = true;
    const j = await post("/api/undo", {});
    busy = false;
    if (j) location.assign("/?item=" + encodeURIComponent(j.record_id));
  }
  const help = document.getElementById("help");
  const toggleHelp = () => { if (help) help.hidden = !help.hidden; };
  const shownAt = performance.now();

  const kind = item && item.kind;
  const multi = kind === "multilabel";
  const labels = item ? item.labels.map((l) => l.name) : [];
  const buttons = Array.from(document.querySelectorAll("button.label"));
  const picked = new Set(multi && Array.isArray(item.pre) ? item.pre : []);
  const showPicked = () => buttons.forEach((b) => b.classList.toggle("on", picked.has(b.dataset.label)));
  if (multi) showPicked();
  function choose(label) {
    if (!label) return;
    if (multi) { picked.has(label) ? picked.delete(label) : picked.add(label); showPicked(); }
    else send("label", label);
  }

  // NER: a cursor and a selection over the words; a number tags the selection, 0 untags it.
  const toks = Array.from(document.querySelectorAll(".tok"));
  const tags = kind === "ner" ? (Array.isArray(item.pre) ? item.pre.slice() : toks.map(() => "O")) : [];
  let cur = 0, anchor = 0;
  const span = () => [Math.min(cur, anchor), Math.max(cur, anchor)];
  function drawTags() {
    const [a, b] = span();
    toks.forEach((el, i) => {
      const t = tags[i];
      el.className = "tok" + (t !== "O" ? " ent ent-" + (labels.indexOf(t.slice(2)) % 6) : "") +
        (i >= a && i <= b ? " sel" : "") + (i === cur ? " cur" : "");
      el.dataset.type = t.startsWith("B-") ? t.slice(2) : "";
      el.title = t;
    });
  }
  function tagSelection(type) {
    const [a, b] = span();
    for (let i = a; i <= b; i++) tags[i] = type ? (i === a ? "B-" : "I-") + type : "O";
    if (b + 1 < tags.length && tags[b + 1].startsWith("I-")) tags[b + 1] = "B-" + tags[b + 1].slice(2);
    drawTags();
  }
  if (kind === "ner") {
    drawTags();
    toks.forEach((el, i) => el.addEventListener("click", (ev) => { cur = i; if (!ev.shiftKey) anchor = i; drawTags(); }));
  }

  function enter() {
    if (!item) return;
    if (kind === "ner") send("label", tags);
    else if (multi) send("label", Array.from(picked));
    else if (item.pre !== null && item.pre !== undefined) send("accept");
    else say("no pre-annotation to accept: pick a label with its number", true);
  }
  buttons.forEach((b) => b.addEventListener("click", () => {
    b.blur();
    if (kind === "ner") tagSelection(b.dataset.label); else choose(b.dataset.label);
  }));
  const on = (id, f) => { const el = document.getElementById(id); if (el) el.addEventListener("click", () => { el.blur(); f(); }); };
  on("accept", enter); on("reject", () => send("reject")); on("skip", skip); on("undo", undo); on("help-btn", toggleHelp);
  on("logout", async () => { if (await post("/logout", {})) location.assign("/bye"); });

  document.addEventListener("keydown", (ev) => {
    if (ev.ctrlKey || ev.metaKey || ev.altKey) return;
    const k = ev.key;
    if (k === "?") { toggleHelp(); ev.preventDefault(); return; }
    if (k === "u" || k === "U") { ev.preventDefault(); undo(); return; }
    if (!item) return;
    if (k === "s" || k === "S") { ev.preventDefault(); skip(); return; }
    if (k === "x" || k === "X") { ev.preventDefault(); send("reject"); return; }
    if (k === "Enter") { ev.preventDefault(); enter(); return; }
    if (kind === "ner") {
      if (k === "ArrowRight" || k === "ArrowLeft") {
        cur = Math.max(0, Math.min(tags.length - 1, cur + (k === "ArrowRight" ? 1 : -1)));
        if (!ev.shiftKey) anchor = cur;
        drawTags(); ev.preventDefault(); return;
      }
      if (k === "0" || k === "Backspace") { tagSelection(null); ev.preventDefault(); return; }
      if (/^[1-9]$/.test(k) && labels[+k - 1]) { tagSelection(labels[+k - 1]); ev.preventDefault(); }
      return;
    }
    if (kind === "relevance") { if (labels.includes(k)) { ev.preventDefault(); choose(k); } return; }
    if (/^[1-9]$/.test(k)) { ev.preventDefault(); choose(labels[+k - 1]); }
  });
})();
"""
