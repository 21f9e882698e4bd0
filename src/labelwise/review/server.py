"""The review web app (Starlette): login links with per-reviewer tokens, sessions in the project
database, a CSRF token per session on every write, a nonce Content-Security-Policy, and the
queue, answers, undo and stats over the project's store.

Endpoints are ``async`` and run on the event loop's one thread, so the store's one SQLite
connection is never used by two requests at once; every write is one short transaction.
"""
from __future__ import annotations

import hashlib
import hmac
import secrets
import statistics
import time
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from ..quality.gold_watch import accuracy_bounds, same_label
from ..routing.small_stage import is_small_spec
from ..types import Annotation
from . import pages
from .answers import check_label, human_annotation, human_id, label_cost, needs_second_look
from .queue import SECOND_LOOK, QueueItem, build_queue, pre_confidence, select_items, view

COOKIE = "lw_session"


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_token() -> str:
    return secrets.token_urlsafe(24)


class ReviewState:
    """What the server keeps between requests: the project's parts, the pre-annotations (read
    once at start), when each item was shown to whom, and each reviewer's skips."""

    def __init__(self, project: Any, select: str = "queued", small_model: bool = True) -> None:
        self.project = project
        self.task, self.store, self.cfg = project.task, project.store, project.config
        self.records = {r.id: r for r in self.store.records()}
        recs = list(self.records.values())
        self.pre: dict[str, Annotation] = project.current_annotations(recs) if recs else {}
        self.selected = select_items(select, recs, self.pre)
        self.routed = self._routed()
        self.small = self._small_guesses() if small_model else {}
        self.shown: dict[tuple[str, str], float] = {}
        self.skipped: dict[str, set[str]] = {}
        labels = self.cfg.task.labels
        self.labels = dict(labels) if isinstance(labels, dict) else {k: "" for k in labels}

    def _routed(self) -> dict[str, tuple[str, Any]]:
        if not self.cfg.route.stages:
            return {}
        from ..routing.router import route_name
        return {rid: (st, lab) for rid, (st, lab, _c, _cert) in self.store.routed(route_name(self.project)).items()
                if lab is not None}

    def _small_guesses(self) -> dict[str, tuple[str, Any, float]]:
        """The small model's guess for each queued item: the task's default small model fit on
        the LLM's labels of the other items (single-label tasks; none when it cannot be fit)."""
        if self.task.kind not in ("classification", "pair"):
            return {}
        from ..loop_models import rounds_for, single_label_model
        from ..models.base import make_small_model
        queued = {rid for rid, _run, _why in self.store.review_queue()} | set(self.selected)
        train = [(self.records[rid], a.label) for rid, a in self.pre.items()
                 if rid in self.records and rid not in queued and a.error is None and a.label is not None]
        ask = [self.records[rid] for rid in queued if rid in self.records]
        labels = [lab for _, lab in train]
        if not ask or len(set(labels)) < 2 or min(labels.count(x) for x in set(labels)) < 2:
            return {}
        kind = rounds_for(self.task)
        name, params = single_label_model(self.task)
        try:
            m = make_small_model(name, store=self.store, **params).fit(kind.inputs([r for r, _ in train]), labels)
            probs = m.predict_proba(kind.inputs(ask))
        except Exception:  # noqa: BLE001 -- no encoder installed, or it cannot fit: the page works without it
            return {}
        classes = list(m.classes_)
        return {r.id: (f"small model ({name})", classes[int(p.argmax())], float(p.max())) for r, p in zip(ask, probs)}

    def queue(self, reviewer: str) -> list[QueueItem]:
        queued = {rid: (run, reason) for rid, run, reason in self.store.review_queue()}
        for rid, reason in self.selected.items():
            queued.setdefault(rid, ("select", reason))
        return build_queue(reviewer, list(self.records.values()), self.pre, queued,
                           self.store.human_answerers(self.task.template_hash), self.cfg.review.overlap,
                           self.cfg.review.gold_share, self.cfg.review.seed, self.skipped.get(reviewer, set()),
                           self.claims())

    def claims(self, hold_s: float = 600.0) -> dict[str, set[str]]:
        """Items open on someone's page in the last ``hold_s`` seconds: record id -> reviewers."""
        now, out = time.monotonic(), {}
        for (who, rid), t in list(self.shown.items()):
            if now - t > hold_s:
                del self.shown[(who, rid)]
            else:
                out.setdefault(rid, set()).add(who)
        return out

    def item(self, rid: str) -> QueueItem:
        queued = {r: reason for r, _run, reason in self.store.review_queue()}
        a = self.pre.get(rid)
        return QueueItem(self.records[rid], queued.get(rid) or self.selected.get(rid) or "you asked for it", a,
                         pre_confidence(a))

    def answered(self, reviewer: str) -> list[Annotation]:
        return self.store.annotations(annotator_id=human_id(reviewer), template_hash=self.task.template_hash)

    def stats(self) -> dict[str, Any]:
        delta = self.cfg.gold.delta
        multi = self.task.kind == "multilabel"
        by_reviewer = {name: self.answered(name) for name in self.store.reviewers()}
        labels_of = {name: {a.record_id: a.label for a in anns if a.error is None} for name, anns in by_reviewer.items()}
        rows = []
        for name, anns in by_reviewer.items():
            mine = labels_of[name]
            gold = [(rid, lab) for rid, lab in mine.items() if self.records.get(rid) and self.records[rid].gold is not None]
            gold_n = sum(1 for a in anns if self.records.get(a.record_id) and self.records[a.record_id].gold is not None)
            right = sum(same_label(lab, self.records[rid].gold, multi) for rid, lab in gold)
            lo, hi = accuracy_bounds(right, gold_n, delta)
            with_pre = [(lab, self.pre[rid]) for rid, lab in mine.items() if rid in self.pre and not self.pre[rid].error]
            shared = [(lab, other[rid]) for o, other in labels_of.items() if o != name for rid, lab in mine.items()
                      if rid in other]
            rows.append({"reviewer": name, "answered": len(anns),
                         "gold": {"n": gold_n, "correct": right, "accuracy": right / gold_n if gold_n else None,
                                  "lower": lo, "upper": hi},
                         "agrees_with_pre": (sum(same_label(l, p.label, multi) for l, p in with_pre) / len(with_pre)
                                             if with_pre else None),
                         "agrees_with_others": (sum(same_label(a, b, multi) for a, b in shared) / len(shared)
                                                if shared else None),
                         "median_seconds": statistics.median(a.latency_s for a in anns) if anns else None,
                         "cost": sum(a.cost for a in anns)})
        items = []
        for rid in sorted({rid for labels in labels_of.values() for rid in labels}):
            given = {name: labels[rid] for name, labels in labels_of.items() if rid in labels}
            if len(given) < 2:
                continue
            votes = list(given.values())
            top = max(sum(same_label(v, w, multi) for w in votes) for v in votes)
            items.append({"record_id": rid, "answers": {k: (list(v) if isinstance(v, tuple) else v)
                                                        for k, v in given.items()}, "agreement": top / len(votes)})
        items.sort(key=lambda x: (x["agreement"], x["record_id"]))
        return {"delta": delta, "reviewers": rows, "shared_items": len(items),
                "disagreements": [x for x in items if x["agreement"] < 1]}


def _session(state: ReviewState, request: Request) -> tuple[str, str] | None:
    sid = request.cookies.get(COOKIE)
    return state.store.session(token_hash(sid)) if sid else None


def _headers(nonce: str) -> dict[str, str]:
    return {"Content-Security-Policy": f"default-src 'none'; script-src 'nonce-{nonce}'; style-src 'unsafe-inline'; "
                                       "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
            "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer", "Cache-Control": "no-store"}


def _html(body: str, nonce: str = "", status: int = 200) -> HTMLResponse:
    return HTMLResponse(body, status_code=status, headers=_headers(nonce or secrets.token_urlsafe(8)))


def _error(message: str, status: int) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status, headers={"Cache-Control": "no-store"})


def make_app(state: ReviewState) -> Starlette:
    review = state.cfg.review

    def login_needed() -> HTMLResponse:
        return _html(pages.message_page("Log in first", "Open the login link `labelwise review` printed for you "
                                        "(or `labelwise review add-user NAME` makes one)."), status=401)

    async def login(request: Request) -> Response:
        token = request.query_params.get("token", "")
        name = state.store.reviewer_by_token(token_hash(token)) if token else None
        if name is None:
            return _html(pages.message_page("Unknown login link", "This link is not valid (or was replaced by a "
                                            "newer one): ask for a new one."), status=403)
        sid, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        state.store.put_session(token_hash(sid), name, csrf)
        resp = RedirectResponse("/", status_code=303)
        resp.set_cookie(COOKIE, sid, httponly=True, samesite="strict", path="/")
        return resp

    async def page(request: Request) -> Response:
        sess = _session(state, request)
        if sess is None:
            return login_needed()
        reviewer, csrf = sess
        nonce = secrets.token_urlsafe(16)
        done = len(state.answered(reviewer))
        want = request.query_params.get("item")
        q = state.queue(reviewer)
        if want and want in state.records:
            chosen = next((x for x in q if x.record.id == want), None) or state.item(want)
        elif q:
            chosen = q[0]
        else:
            return _html(pages.empty_page(reviewer, csrf, done, nonce), nonce)
        rid = chosen.record.id
        state.shown[(reviewer, rid)] = time.monotonic()
        version = state.store.answer_versions(reviewer).get(rid, 0)
        routed = [(f"route stage {state.routed[rid][0]}", state.routed[rid][1])] if rid in state.routed else []
        if rid in state.small:
            who, guess, p = state.small[rid]
            routed.append((f"{who}, {p:.0%} sure", guess))
        v = view(chosen, state.task, state.labels, version, routed)
        return _html(pages.item_page(v, reviewer, csrf, left=len(q), done=done, nonce=nonce), nonce)

    async def guarded(request: Request) -> tuple[str, dict[str, Any]] | JSONResponse:
        """The reviewer and JSON body of a write, or the refusal."""
        sess = _session(state, request)
        if sess is None:
            return _error("not logged in: open your login link", 401)
        reviewer, csrf = sess
        if not hmac.compare_digest(request.headers.get("x-csrf-token", ""), csrf):
            return _error("refused: missing or wrong CSRF token (reload the page)", 403)
        origin = request.headers.get("origin")
        if origin and origin.split("://", 1)[-1] != request.headers.get("host", ""):
            return _error("refused: request from another site", 403)
        if not request.headers.get("content-type", "").startswith("application/json"):
            return _error("expected a JSON body", 415)
        try:
            body = await request.json()
        except ValueError:
            return _error("the body is not JSON", 400)
        return reviewer, body if isinstance(body, dict) else {}

    async def answer(request: Request) -> Response:
        g = await guarded(request)
        if isinstance(g, JSONResponse):
            return g
        reviewer, body = g
        rid = body.get("record_id")
        if rid not in state.records:
            return _error(f"no item {rid!r} in this project", 404)
        rec = state.records[rid]
        pre = state.pre.get(rid)
        action = body.get("action")
        try:
            if action == "accept":
                if pre is None or pre.error:
                    return _error("this item has no pre-annotation to accept: pick a label", 422)
                label = check_label(state.task, rec, list(pre.label) if isinstance(pre.label, tuple) else pre.label)
            elif action == "label":
                label = check_label(state.task, rec, body.get("label"))
            elif action == "reject":
                label = None
            else:
                return _error("action must be accept, label or reject", 422)
        except ValueError as e:
            return _error(f"not a valid label: {e}", 422)
        version = body.get("version")
        if version is not None and not isinstance(version, int):
            return _error("version must be a number", 422)
        shown = state.shown.get((reviewer, rid))
        seconds = min(time.monotonic() - shown, 600.0) if shown is not None else float(body.get("seconds") or 0.0)
        cost = label_cost(seconds, review.price_per_hour, state.cfg.human_price_per_label)
        ann = human_annotation(state.task, rec, reviewer, label, seconds, cost, rejected=label is None)
        v = state.store.put_human_answer(ann, reviewer, version)
        if v < 0:
            return _error("not saved: you answered this item again in another window since this page was loaded; "
                          "reload to see your latest answer", 409)
        state.shown.pop((reviewer, rid), None)
        stage, routed_label = state.routed.get(rid, (None, None))
        small_label = routed_label if stage and is_small_spec(stage) else \
            (state.small[rid][1] if rid in state.small else None)  # the small model's guess
        if label is not None and rec.gold is None and needs_second_look(
                label, pre, pre_confidence(pre), review.judge_margin, small_label, state.task.kind == "multilabel"):
            state.store.flag_for_review(SECOND_LOOK, rid, f"second look: a reviewer disagreed with a confident "
                                        f"pre-annotation ({pre.label} at margin {pre_confidence(pre):.2f})")
        return JSONResponse({"ok": True, "version": v, "next": "/"})

    async def skip(request: Request) -> Response:
        g = await guarded(request)
        if isinstance(g, JSONResponse):
            return g
        reviewer, body = g
        state.skipped.setdefault(reviewer, set()).add(str(body.get("record_id")))
        return JSONResponse({"ok": True})

    async def undo(request: Request) -> Response:
        g = await guarded(request)
        if isinstance(g, JSONResponse):
            return g
        reviewer, _ = g
        rid = state.store.last_human_answer(reviewer)
        if rid is None:
            return _error("nothing to undo", 404)
        v = state.store.answer_versions(reviewer).get(rid, 0)
        state.store.delete_human_answer(rid, reviewer, human_id(reviewer), v)
        state.skipped.get(reviewer, set()).discard(rid)
        return JSONResponse({"ok": True, "record_id": rid})

    async def stats(request: Request) -> Response:
        sess = _session(state, request)
        if sess is None:
            return login_needed()
        nonce = secrets.token_urlsafe(16)
        return _html(pages.stats_page(state.stats(), sess[0], sess[1], nonce), nonce)

    async def stats_json(request: Request) -> Response:
        if _session(state, request) is None:
            return _error("not logged in", 401)
        return JSONResponse(state.stats())

    async def logout(request: Request) -> Response:
        g = await guarded(request)
        if isinstance(g, JSONResponse):
            return g
        state.store.drop_session(token_hash(request.cookies.get(COOKIE, "")))
        resp = JSONResponse({"ok": True})
        resp.delete_cookie(COOKIE, path="/")
        return resp

    async def bye(request: Request) -> Response:
        return _html(pages.message_page("Logged out", "Open your login link to come back."))

    return Starlette(routes=[
        Route("/", page), Route("/login", login), Route("/stats", stats), Route("/api/stats", stats_json),
        Route("/api/answer", answer, methods=["POST"]), Route("/api/skip", skip, methods=["POST"]),
        Route("/api/undo", undo, methods=["POST"]), Route("/logout", logout, methods=["POST"]), Route("/bye", bye)])
