"""Trace lists for a node or an edge (an edge's with its rate, failed share and p95 over the window),
and one trace as a waterfall (HTML fragments the page loads on a click). A trace still in flight shows
the spans that have arrived; open spans are striped and say "still open", and so does the root while
the request has not finished."""

from __future__ import annotations

from markupsafe import Markup

from chaoslab.console.render import ago, esc, ms, rate, share, sparkline
from chaoslab.servicegraph import SLICE_S, TraceRef
from chaoslab.tracetree import roots_and_children

SECTIONS = (("open", "Still open"), ("failed", "Failed"), ("slow", "Slowest"))


def edge_history(points: list[dict], window_s: float, now: float) -> Markup:
    """An edge's rate, failed share and p95 over the window, a small chart each with its latest figure:
    what changed on this hop and when (the graph's label only says now)."""
    start = now - window_s
    charts = []
    for key, title, shown in (("rate", "rate", rate), ("error_share", "failed", share), ("p95_ms", "p95", ms)):
        series = [(p["at"] + SLICE_S, p[key]) for p in points]
        latest = next((v for _, v in reversed(series) if v is not None), None)
        charts.append(
            f'<div class="history" data-measure="{key}"><span class="muted">{title}</span> '
            f"<b>{esc(shown(latest) if latest is not None else '–')}</b>"
            f"{sparkline(series, start, now, width=120, height=28)}</div>"
        )
    return Markup(f'<div class="histories">{"".join(charts)}</div>')


def trace_list(title: str, refs: dict[str, list[TraceRef]], history: str = "", now: float | None = None) -> Markup:
    """``history``: an edge's charts (``edge_history``), under the title; ``now``: the page's clock."""
    parts = [f"<h3>{esc(title)}</h3>{history}"]
    for key, heading in SECTIONS:
        found = refs.get(key, [])
        if not found:
            continue
        rows = "".join(
            f'<li><a href="trace/{esc(r.trace_id)}" class="trace-link" data-trace="{esc(r.trace_id)}">'
            f"{esc(r.trace_id[:12])}…</a> {esc(r.source)} → {esc(r.target)} "
            f"<b>{esc(('≥ ' if r.open else '') + ms(r.duration_ms))}</b>"
            + (' <span class="tag failed">failed</span>' if r.error else "")
            + (' <span class="tag failed">unanswered</span>' if r.unanswered else "")
            + (f' <span class="muted">{esc(ago(r.ended_at, now))}</span>' if not r.open else "")
            + "</li>"
            for r in found
        )
        parts.append(f'<h4>{heading}</h4><ul class="traces {key}">{rows}</ul>')
    if len(parts) == 1:
        parts.append('<p class="muted">No calls in this window.</p>')
    return Markup("".join(parts))


def waterfall(trace_id: str, spans: list[dict] | None) -> Markup:
    if not spans:
        return Markup(
            f'<p class="muted">Trace {esc(trace_id)} is no longer kept (the lab keeps the most recent 1000 traces).</p>'
        )
    roots, children = roots_and_children(spans)
    start = min(s["start_ns"] for s in spans)
    end = max(s["end_ns"] for s in spans)
    total = max(end - start, 1)
    root = roots[0]
    errors = sum(1 for s in spans if s["status"] == "error")
    still_open = sum(1 for s in spans if s.get("open"))
    services = list(dict.fromkeys(s["service"] for s in sorted(spans, key=lambda s: s["start_ns"])))
    status = [f"{errors} failed span{'s' if errors != 1 else ''}"] if errors else []
    if root.get("open"):
        status.append("root still open")
    if still_open:
        status.append(f"{still_open} open span{'s' if still_open != 1 else ''}")
    header = (
        f'<div class="wf-head"><b>{esc(root["service"])} {esc(root["name"])}</b> '
        f"{esc(('≥ ' if root.get('open') else '') + ms(total / 1e6))} · {len(spans)} spans · "
        f"{esc(', '.join(services))}"
        + (f' · <span class="failed">{esc(", ".join(status))}</span>' if status else "")
        + f'<div class="muted">trace {esc(trace_id)}</div></div>'
    )
    rows: list[str] = []

    def walk(span: dict, depth: int) -> None:
        left = (span["start_ns"] - start) / total * 100
        width = max((span["end_ns"] - span["start_ns"]) / total * 100, 0.3)
        took = ms((span["end_ns"] - span["start_ns"]) / 1e6)
        classes = ["span"]
        if depth == 0:
            classes.append("root")
        if span["status"] == "error":
            classes.append("error")
        if span.get("open"):
            classes.append("open")
            took = f"≥ {took}, still open"
        attributes = "".join(
            f"<tr><td>{esc(k)}</td><td>{esc(str(v))}</td></tr>" for k, v in sorted(span["attributes"].items())
        )
        message = (
            f"<tr><td>status</td><td>{esc(span['status'])}: {esc(span['status_message'])}</td></tr>"
            if span["status"] == "error"
            else ""
        )
        rows.append(
            f'<details class="{" ".join(classes)}"><summary>'
            f'<span class="wf-label" style="padding-left:{depth * 12}px">'
            f'<span class="svc">{esc(span["service"])}</span> {esc(span["name"])}</span>'
            f'<span class="wf-track"><span class="wf-bar" style="left:{left:.2f}%;width:{width:.2f}%"></span></span>'
            f'<span class="wf-dur">{esc(took)}</span></summary>'
            f'<table class="attrs"><tr><td>kind</td><td>{esc(span["kind"])}</td></tr>{message}{attributes}</table>'
            "</details>"
        )
        for child in children.get(span["span_id"], []):
            walk(child, depth + 1)

    for top in roots:
        walk(top, 0)
    return Markup(f'<div class="waterfall" data-trace="{esc(trace_id)}">{header}{"".join(rows)}</div>')
