"""The console's pages and their data as a Flask blueprint under /console, for whichever process hosts it.

GET /console/                       the trainee's view
GET /console/instructor             the instructor's view (?token=… once: sets a cookie, then redirects)
GET /console/stream?view=&window=   Server-Sent Events: {panel id: html} as each panel falls due
GET /console/panels?view=&window=   every panel once (the page polls this when it cannot stream)
GET /console/traces?source=&target= (or ?node=) &window=   recent failed, slow, open traces (fragment)
GET /console/trace/<trace id>       one trace as a waterfall (fragment)
GET /console/api/graph?window=      the service graph as JSON
GET /console/notices?after=N        pages, escalations and state changes after N record entries (JSON)
GET /console/status                 the shop's public status page (no token: what customers see)
GET /console/status.json            the same as a feed a subscriber can poll
GET /console/replay                 a replay's clock and marks (JSON; only over a recording)
POST /console/replay                play (speed 1, 10 or 60), pause or seek (t: wall seconds)

Every stream of one view shares one render loop (chaoslab.console.broadcast): the panels are rendered
once per tick however many consoles are open. Each stream still holds a handler thread while it is
open, so streams are capped (``MAX_STREAMS``) and the hosts give the console that many threads of its
own (the lab daemon also receives the traces on its threads); a page refused a stream polls instead.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import re
import threading
import time
from collections.abc import Callable, Iterator

from flask import Blueprint, Response, jsonify, redirect, request, url_for
from markupsafe import Markup

from chaoslab.console.broadcast import Broadcast, Broadcasts
from chaoslab.console.business import MetricsHistory
from chaoslab.console.layout import Layout
from chaoslab.console.panel import Context, Panel
from chaoslab.console.panels import panels
from chaoslab.console.render import esc
from chaoslab.console.replay import Replay, control, replay_bar
from chaoslab.console.source import Source
from chaoslab.console.status import status_html
from chaoslab.console.traces import edge_history, trace_list, waterfall
from chaoslab.servicegraph import SERVICE_NAMES

WINDOWS = {60: "1 min", 300: "5 min"}
MAX_STREAMS = 40
"""A room of trainees and its projector: the hosts add this many handler threads for the streams."""
STREAM_LIFETIME_S = 300.0
"""A stream ends after this; the browser's EventSource reconnects on its own (``retry``)."""
KEEPALIVE_S = 5.0
"""A stream with nothing new still says something this often, so a dead connection is noticed."""
REPLAY_EVERY_S = 1.0
"""Over a recording every panel is re-rendered this often (it reads memory; the clock may run at 60×)."""
COOKIE = "chaoslab_console"
log = logging.getLogger("chaoslab.console")
_TRACE_ID = re.compile(r"^[0-9a-f]{32}$")
_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,62}$")


def render(panel: Panel, ctx: Context) -> Markup:
    """A panel's HTML; a panel that fails says so in its own box and the rest of the page carries on."""
    try:
        return panel.render(ctx)
    except Exception as exc:
        log.exception("console panel %s failed", panel.id)
        return Markup('<p class="alert-line">This panel failed: {}</p>').format(f"{type(exc).__name__}: {exc}"[:300])


class Gate:
    """The instructor's token, taken once from ``?token=`` (then kept in an HttpOnly cookie scoped to the
    view's path, and dropped from the address bar) or on every request as ``Authorization: Bearer``."""

    def __init__(self, token: Callable[[], str], how: str = "run `chaoslab console --instructor`"):
        self.token = token
        self.how = how

    def _session_value(self) -> str:
        return hmac.new(self.token().encode(), b"chaoslab console instructor", hashlib.sha256).hexdigest()

    def allows(self) -> bool:
        supplied = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
        if supplied and hmac.compare_digest(supplied.encode(), self.token().encode()):
            return True
        return hmac.compare_digest(request.cookies.get(COOKIE, "").encode(), self._session_value().encode())

    def enter(self, scope: str) -> Response | None:
        """None when the caller may see the page; otherwise the answer to send: the redirect that sets
        the cookie (for ``scope`` and the paths under it), or a 401 page saying how to get in."""
        supplied = request.args.get("token")
        if supplied is not None:
            if not hmac.compare_digest(supplied.encode(), self.token().encode()):
                return Response(
                    _refusal(f"That is not the lab's token. To open this view, {self.how}."), 401, mimetype="text/html"
                )
            response = redirect(request.path)  # the token leaves the address bar at once
            response.set_cookie(COOKIE, self._session_value(), httponly=True, samesite="Strict", path=scope)
            return response
        if not self.allows():
            return Response(_refusal(f"This view needs the lab's token: {self.how}."), 401, mimetype="text/html")
        return None


class BadRequest(Exception):
    """Input the console refuses: a 400 with one line saying what is wrong."""


def create_blueprint(
    source: Source, token: Callable[[], str], replay: Replay | None = None, recordings: str | None = None
) -> Blueprint:
    """The console over ``source``; ``token()`` is the instructor's token (locally, the lab's). Over a
    recording (``replay``, whose ``source`` it is), the pages go by the replay's clock and gain its controls.
    ``recordings``: where the host lists its recordings, relative to the page (a link in the header)."""
    console = Blueprint("console", __name__, static_folder="static", static_url_path="/static")
    now = time.time
    history = MetricsHistory()
    if replay is not None:
        history, now = replay.history, replay.clock.now
    layout = Layout()
    streams = threading.BoundedSemaphore(MAX_STREAMS)
    every_s = REPLAY_EVERY_S if replay is not None else None
    broadcasts = Broadcasts(lambda key: _broadcast(source, history, layout, now, every_s, *key))
    if replay is not None:
        replay.clock.listeners.append(broadcasts.wake)

    gate = Gate(token)

    def window() -> int:
        raw = request.args.get("window", "60")
        if not raw.isdigit() or int(raw) not in WINDOWS:
            raise BadRequest(f"window must be one of {', '.join(map(str, WINDOWS))} (seconds)")
        return int(raw)

    def wants_instructor() -> bool:
        view = request.args.get("view", "trainee")
        if view not in ("trainee", "instructor"):
            raise BadRequest("view must be trainee or instructor")
        if view == "instructor" and not gate.allows():
            raise PermissionError
        return view == "instructor"

    def present() -> bool:
        raw = request.args.get("present", "0")
        if raw not in ("0", "1"):
            raise BadRequest("present must be 1 (projection mode) or 0")
        return raw == "1"

    def context(as_instructor: bool, window_s: int) -> Context:
        return Context(source, window_s, as_instructor, history, layout, present(), now)

    def render_all(ctx: Context) -> dict[str, str]:
        return {p.id: str(render(p, ctx)) for p in panels() if p.visible_to(ctx.instructor)}

    @console.errorhandler(BadRequest)
    def bad_request(exc: BadRequest):
        return jsonify(error="bad_request", message=str(exc)), 400

    @console.errorhandler(PermissionError)
    def unauthorised(_exc):
        return jsonify(
            error="unauthorised",
            message="the instructor's view needs the lab's token: run `chaoslab console --instructor`",
        ), 401

    @console.get("/")
    def trainee_page():
        return page(False, window())

    @console.get("/instructor")
    def instructor_page():
        refused = gate.enter(url_for(".trainee_page"))
        return refused if refused is not None else page(True, window())

    def page(as_instructor: bool, window_s: int) -> Response:
        ctx = context(as_instructor, window_s)
        rendered = {p.id: p for p in panels() if p.visible_to(as_instructor)}
        body = {p.id: render(p, ctx) for p in rendered.values()}
        bar = replay_bar(replay) if replay is not None else ""
        link = f'<a href="{esc(recordings)}" class="switch">recordings</a>' if recordings else ""
        return Response(
            _page(source.where, as_instructor, window_s, rendered, body, ctx.present, bar, link), mimetype="text/html"
        )

    @console.get("/notices")
    def notices():
        """The record's notices after its first ``after`` entries (none: where it ends now), for the page's
        browser notifications; ``next`` is what to ask after next time."""
        raw = request.args.get("after", "")
        if raw and not raw.isdigit():
            raise BadRequest("after must be a count of record entries (the last answer's next)")
        seen, found = source.notices(int(raw) if raw else None)
        return jsonify(next=seen, notices=[n.to_json() | {"rings": n.rings, "line": n.line()} for n in found])

    @console.get("/status")
    def status_page():
        """The shop's public status page: no token, nothing but what customers may read."""
        return Response(status_html(source.status_page()), mimetype="text/html")

    @console.get("/status.json")
    def status_feed():
        return jsonify(source.status_page())

    @console.get("/panels")
    def all_panels():
        return jsonify(render_all(context(wants_instructor(), window())))

    @console.get("/stream")
    def stream():
        as_instructor, window_s = wants_instructor(), window()
        if not streams.acquire(blocking=False):
            return jsonify(error="busy", message=f"{MAX_STREAMS} consoles stream already; this one polls"), 503
        shared = broadcasts.of((as_instructor, window_s, present()))

        def events() -> Iterator[str]:
            shared.join()
            try:
                yield "retry: 1000\n\n"
                seen, sent = 0, {}
                ends = time.monotonic() + STREAM_LIFETIME_S
                while time.monotonic() < ends:
                    seen, frames = shared.wait(seen, timeout_s=KEEPALIVE_S)
                    update = {k: html for k, html in frames.items() if sent.get(k) != html}  # only what changed
                    sent.update(update)
                    yield f"data: {json.dumps(update)}\n\n" if update else ": tick\n\n"
            finally:
                shared.leave()

        answer = Response(events(), mimetype="text/event-stream", headers={"Cache-Control": "no-store"})
        answer.call_on_close(streams.release)  # with the response, whatever became of its loop
        return answer

    @console.get("/traces")
    def traces():
        window_s = window()
        node = request.args.get("node")
        edge_source, edge_target = request.args.get("source"), request.args.get("target")
        for value in (node, edge_source, edge_target):
            if value is not None and not _NAME.match(value):
                raise BadRequest("node, source and target are node names such as service-a")
        if node:
            refs, title = source.traces_through(window_s, node=node), f"Traces through {node}"
        elif edge_source and edge_target:
            refs = source.traces_through(window_s, source=edge_source, target=edge_target)
            title = f"Traces {edge_source} → {edge_target}"
            points = source.edge_history(window_s, edge_source, edge_target)
            return Response(
                trace_list(f"{title} (last {WINDOWS[window_s]})", refs, edge_history(points, window_s, now()), now()),
                mimetype="text/html",
            )
        else:
            raise BadRequest("give node=NAME, or source=NAME and target=NAME")
        return Response(trace_list(f"{title} (last {WINDOWS[window_s]})", refs, now=now()), mimetype="text/html")

    @console.get("/trace/<trace_id>")
    def trace(trace_id: str):
        if not _TRACE_ID.match(trace_id):
            raise BadRequest("a trace id is 32 lowercase hex digits")
        drawn = waterfall(trace_id, source.trace(trace_id))
        if request.headers.get("Sec-Fetch-Dest") == "document":  # opened as a page (a link in a new tab)
            drawn = _trace_page(trace_id, drawn)
        return Response(drawn, mimetype="text/html")

    @console.get("/api/graph")
    def graph_json():
        return jsonify(source.graph(window()).to_dict())

    if replay is not None:

        @console.get("/replay")
        def replay_state():
            return jsonify(replay.clock.to_json() | {"marks": replay.marks})

        @console.post("/replay")
        def replay_control():
            asked = request.get_json(silent=True) or request.form
            try:
                control(replay.clock, asked)
            except ValueError as exc:
                raise BadRequest(str(exc)) from None
            return jsonify(replay.clock.to_json())

    return console


def _trace_page(trace_id: str, drawn: Markup) -> str:
    """One trace as a page of its own, styled like the console, with the way back."""
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8"><link rel="icon" href="data:,">'
        f'<title>trace {esc(trace_id)} · chaoslab console</title><link rel="stylesheet" href="../static/console.css">'
        f'</head><body><header><h1>chaoslab console</h1><a href="../" class="switch">the console</a></header>'
        f'<main class="single"><section class="panel"><h2>Trace {esc(trace_id)}</h2>'
        f'<div id="waterfall">{drawn}</div></section></main></body></html>'
    )


def _broadcast(
    source: Source, history, layout, now, every_s, as_instructor: bool, window_s: int, present: bool
) -> Broadcast:
    ctx = Context(source, window_s, as_instructor, history, layout, present, now)
    visible = [p for p in panels() if p.visible_to(as_instructor)]
    return Broadcast(visible, lambda p: str(render(p, ctx)), every_s=every_s)


def _refusal(message: str) -> str:
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8"><link rel="icon" href="data:,">'
        f"<title>chaoslab console</title></head><body><p>{esc(message)}</p></body></html>"
    )


def _page(
    where: str,
    as_instructor: bool,
    window_s: int,
    rendered: dict,
    body: dict[str, Markup],
    present: bool = False,
    bar: str = "",
    link: str = "",
) -> str:
    """``bar``: a replay's controls under the header; ``link``: one more link in the header."""

    def section(area: str) -> str:
        return "".join(
            f'<section class="panel" data-panel="{esc(p.id)}"><h2>{esc(p.title)}</h2>'
            f'<div id="panel-{esc(p.id)}">{body[p.id]}</div></section>'
            for p in rendered.values()
            if p.area == area
        )

    view = "instructor" if as_instructor else "trainee"
    windows = "".join(
        f'<button type="button" data-window="{seconds}"{" class=on" if seconds == window_s else ""}>{label}</button>'
        for seconds, label in WINDOWS.items()
    )
    other = (
        '<a href="./" class="switch">trainee view</a>'
        if as_instructor
        else '<a href="instructor" class="switch">instructor</a>'
    )
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="data:,"><title>chaoslab console</title><link rel="stylesheet" href="static/console.css">
</head><body data-view="{view}" data-window="{window_s}" data-present="{int(present)}"{
        ' class="present"' if present else ""
    }
data-services="{esc(",".join(SERVICE_NAMES))}">
<header><h1>chaoslab console</h1><span class="where">{esc(where)}</span>
<nav class="windows" aria-label="window">{windows}</nav><span class="view {view}">{view} view</span>{other}{link}
<button type="button" id="notify" class="notify" title="Notify me of pages and escalations">notify me</button>
<button type="button" id="pause" class="pause" aria-pressed="false" title="Hold the page still (key: p)">pause</button>
<button type="button" id="present" class="pause" title="Projection mode: the graph alone (key: f)">{
        "leave projection" if present else "project"
    }</button>
<span id="live" class="live">connecting…</span></header>
<div id="notices" class="notices" role="status" aria-live="polite"></div>{bar}
<main>
<div class="graph-area">{section("graph")}{section("main")}</div>
<div class="side-area"><section class="panel" id="detail"><h2>Traces</h2>
<form id="find-trace" class="find-trace"><input name="trace" placeholder="trace id (32 hex digits)" size="34"
pattern="[0-9a-fA-F]{{32}}" aria-label="trace id" required><button type="submit">open</button></form>
<div id="trace-list"><p class="muted">Click a node or an edge of the graph to list its recent failed, slow and
still-open traces.</p></div><div id="waterfall"></div></section>{section("side")}</div>
</main>
<script src="static/console.js"></script>
</body></html>"""
