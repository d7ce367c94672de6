"""The live service graph as SVG: nodes and edges coloured by health (Kiali's thresholds), each edge
labelled with rate, error share and p95, new edges dashed and marked, unanswered calls flagged.
Clicking a node or an edge lists its recent failed, slow and open traces (console.js)."""

from __future__ import annotations

from markupsafe import Markup

from chaoslab.console.layout import HEIGHT, NODE_R, WIDTH, curve
from chaoslab.console.panel import Context, Panel
from chaoslab.console.render import clock, esc, ms, rate, share
from chaoslab.servicegraph import IDLE, MESSAGING, Edge, Graph, Node

LEGEND = (
    ("healthy", "healthy"),
    ("degraded", "degraded (≥ 0.1% failed, or p95 over its objective)"),
    ("failed", "failed (> 10% failed, p95 over twice its objective, or calls nobody answers)"),
    ("idle", "no traffic"),
)


def legend() -> str:
    """What the colours mean (one per graph; the cohort page shows one for every team's)."""
    keys = "".join(f'<span class="key h-{h}"><i></i>{esc(text)}</span>' for h, text in LEGEND)
    return f'<div class="legend">{keys}</div>'


def edge_label(edge: Edge) -> str:
    if edge.requests == 0:
        return f"{edge.in_flight} open" if edge.in_flight else ""
    parts = [rate(edge.rate), share(edge.error_share), f"p95 {ms(edge.p95_ms)}"]
    if edge.in_flight:
        parts.append(f"{edge.in_flight} open")
    return " · ".join(parts)


def edge_title(edge: Edge, window_s: float) -> str:
    lines = [
        f"{edge.source} → {edge.target} ({edge.connection}), last {window_s / 60:g} min",
        f"{edge.requests} calls, {rate(edge.rate)}, {edge.errors} failed ({share(edge.error_share)})",
        f"p50 {ms(edge.p50_ms)}, p95 {ms(edge.p95_ms)}, p99 {ms(edge.p99_ms)} (caller's side)",
    ]
    if edge.server_p95_ms is not None:
        lines.append(f"p95 {ms(edge.server_p95_ms)} on the callee's side")
    if edge.in_flight:
        lines.append(f"{edge.in_flight} open now, the oldest for {ms(edge.oldest_open_ms)}")
    if edge.unanswered or edge.open_unanswered:
        lines.append(f"{edge.unanswered + edge.open_unanswered} calls the callee never picked up")
    if edge.new:
        lines.append("new: not seen in the healthy lab")
    return "\n".join(lines)


def _edge(edge: Edge, graph_ctx: Context, window_s: float) -> str:
    start, end = graph_ctx.layout.place(edge.source), graph_ctx.layout.place(edge.target)
    backwards = end[0] < start[0] - 40  # the ring's way back: nearly straight, between the rows of nodes
    label_at = 0.25 if backwards else 0.7 if edge.connection == MESSAGING else 0.5
    path, (mx, my) = curve(start, end, bend=-0.06 if backwards else 0.12, label_at=label_at)
    if backwards:  # below its line, clear of the names of the ring's top row
        my += 16
    classes = ["edge", f"h-{edge.health}", edge.connection]
    if edge.new:
        classes.append("new")
    label = edge_label(edge)
    badges = []
    if edge.new:
        badges.append("NEW")
    waiting = edge.unanswered + edge.open_unanswered
    if waiting:
        badges.append(f"{waiting} unanswered")
    text = ""
    if label or badges:
        text = (
            f'<text class="label" x="{mx:.1f}" y="{my - 4:.1f}">{esc(label)}</text>'
            if label
            else f'<text class="label" x="{mx:.1f}" y="{my - 4:.1f}"></text>'
        )
        if badges:
            text += f'<text class="badge" x="{mx:.1f}" y="{my + 9:.1f}">{esc(" · ".join(badges))}</text>'
    return (
        f'<g class="{" ".join(classes)}" data-source="{esc(edge.source)}" data-target="{esc(edge.target)}" '
        f'tabindex="0"><title>{esc(edge_title(edge, window_s))}</title>'
        f'<path class="hit" d="{path}"/><path class="line" d="{path}" marker-end="url(#arrow-{edge.health})"/>'
        f"{text}</g>"
    )


def _node(node: Node, place: tuple[float, float], state: str | None) -> str:
    x, y = place
    inner = rate(node.rate) if node.requests else ""
    title = [f"{node.name} ({node.kind})"]
    if node.requests or node.in_flight:
        title.append(
            f"in: {node.requests} calls, {rate(node.rate)}, {share(node.error_share)} failed, p95 {ms(node.p95_ms)}"
        )
    if node.in_flight:
        title.append(f"{node.in_flight} calls in flight")
    if node.unanswered:
        title.append(f"{node.unanswered} calls it never picked up")
    if state:
        title.append(f"process: {state}")
    shown_state = state if state and state != "ready" else ""
    return (
        f'<g class="node h-{node.health} {node.kind}" data-node="{esc(node.name)}" tabindex="0">'
        f"<title>{esc(chr(10).join(title))}</title>"
        f'<circle cx="{x}" cy="{y}" r="{NODE_R}"/>'
        f'<text class="inner" x="{x}" y="{y + 4}">{esc(inner)}</text>'
        f'<text class="name" x="{x}" y="{y + NODE_R + 15}">{esc(node.name)}</text>'
        + (f'<text class="state" x="{x}" y="{y + NODE_R + 28}">{esc(shown_state)}</text>' if shown_state else "")
        + "</g>"
    )


def svg(graph: Graph, ctx: Context, states: dict[str, str]) -> Markup:
    used = {n for e in graph.edges for n in e.key}
    nodes = [n for n in graph.nodes if n.name in used or n.kind in ("service", "database", "client")]
    markers = "".join(
        f'<marker id="arrow-{h}" class="h-{h}" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" '
        f'markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z"/></marker>'
        for h, _ in LEGEND
    )
    # quiet edges first, so busy and failing ones are drawn on top
    edges = sorted(graph.edges, key=lambda e: (e.health != IDLE, e.health == "failed", e.new))
    return Markup(
        f'<svg id="graph-svg" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="service graph">'
        f"<defs>{markers}</defs>"
        + "".join(_edge(e, ctx, graph.window_s) for e in edges)
        + "".join(_node(n, ctx.layout.place(n.name), states.get(n.name)) for n in nodes)
        + "</svg>"
    )


def render(ctx: Context) -> Markup:
    graph = ctx.source.graph(ctx.window_s)
    states = ctx.source.processes()
    flagged = [e for e in graph.edges if e.new and (e.requests or e.in_flight)]
    note = ""
    if flagged:
        note = '<p class="alert-line">New since the healthy lab: ' + ", ".join(
            f"{esc(e.source)} → {esc(e.target)}" for e in flagged
        )
        note += "</p>"
    return Markup(
        f'<div class="graph-meta">last {ctx.window_s / 60:g} min · updated {clock(graph.at)}</div>'
        f"{svg(graph, ctx, states)}{note}{legend()}"
    )


PANEL = Panel("graph", "Service graph", render, every_s=2.0, area="graph")
