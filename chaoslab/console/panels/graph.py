"""The live service graph as SVG: nodes and edges coloured by health (Kiali's thresholds), each edge
labelled with rate, error share and p95, new edges dashed and marked, unanswered calls flagged.
Clicking a node or an edge lists its recent failed, slow and open traces (console.js)."""

from __future__ import annotations

import math

from markupsafe import Markup

from chaoslab.console.layout import (
    HEIGHT,
    LINE_EM,
    NODE_R,
    NORMAL,
    PRESENT,
    WIDTH,
    Box,
    Fonts,
    curve,
    name_baseline,
    node_boxes,
    place_label,
)
from chaoslab.console.panel import Context, Panel
from chaoslab.console.render import clock, esc, ms, rate, share
from chaoslab.servicegraph import IDLE, MESSAGING, Edge, Graph, Node

LEGEND = (
    ("healthy", "healthy"),
    ("degraded", "degraded (≥ 0.1% failed, or p95 over its objective)"),
    ("failed", "failed (> 10% failed, p95 over twice its objective, or calls nobody answers)"),
    ("idle", "no traffic"),
)


REPAIR_ROUNDS = 4
"""How many times labels that still overlap look again for a spot (each round moves only what helps)."""


def legend() -> str:
    """What the colours mean (one per graph; the cohort page shows one for every team's)."""
    keys = "".join(f'<span class="key h-{h}"><i></i>{esc(text)}</span>' for h, text in LEGEND)
    return f'<div class="legend">{keys}</div>'


def edge_label(edge: Edge) -> list[str]:
    """An edge's figures in short lines (one long line is what crowded the drawing): rate and failed
    share, p95, the calls still open."""
    lines = [f"{rate(edge.rate)} · {share(edge.error_share)}", f"p95 {ms(edge.p95_ms)}"] if edge.requests else []
    return lines + ([f"{edge.in_flight} open"] if edge.in_flight else [])


def edge_badges(edge: Edge) -> list[str]:
    """What is wrong with the edge itself, a line each: new since the healthy lab, calls nobody picked up."""
    waiting = edge.unanswered + edge.open_unanswered
    return (["NEW"] if edge.new else []) + ([f"{waiting} unanswered"] if waiting else [])


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


def _geometry(edge: Edge, ctx: Context) -> tuple[tuple[tuple[float, float], tuple[float, float], float], float]:
    """(start, end, bend) of an edge's curve and where along it its label would rather sit."""
    start, end = ctx.layout.place(edge.source), ctx.layout.place(edge.target)
    backwards = end[0] < start[0] - 40  # the ring's way back: nearly straight, between the rows of nodes
    prefer = 0.25 if backwards else 0.7 if edge.connection == MESSAGING else 0.5
    return (start, end, -0.06 if backwards else 0.12), prefer


def _lines(x: float, top: float, lines: list[str], size: float, css: str) -> str:
    """A text of several lines, the first line's top at ``top`` (baselines one font size lower each)."""
    spans = "".join(
        f'<tspan x="{x:.1f}" dy="{(size if i == 0 else size * LINE_EM):.1f}">{esc(line)}</tspan>'
        for i, line in enumerate(lines)
    )
    return f'<text class="{css}" x="{x:.1f}" y="{top:.1f}" font-size="{size:g}">{spans}</text>'


def _edge(edge: Edge, ctx: Context, window_s: float, spot: tuple[float, float] | None, fonts: Fonts) -> str:
    geometry, _ = _geometry(edge, ctx)
    path = curve(*geometry)
    classes = ["edge", f"h-{edge.health}", edge.connection]
    if edge.new:
        classes.append("new")
    label, badges = edge_label(edge), edge_badges(edge)
    text = ""
    if spot is not None:
        x, top = spot
        text = _lines(x, top, label, fonts.label, "label") if label else ""
        if badges:
            text += _lines(x, top + len(label) * fonts.label * LINE_EM, badges, fonts.label, "badge")
    return (
        f'<g class="{" ".join(classes)}" data-source="{esc(edge.source)}" data-target="{esc(edge.target)}" '
        f'tabindex="0"><title>{esc(edge_title(edge, window_s))}</title>'
        f'<path class="hit" d="{path}"/><path class="line" d="{path}" marker-end="url(#arrow-{edge.health})"/>'
        f"{text}</g>"
    )


def _node(node: Node, place: tuple[float, float], state: str | None, fonts: Fonts) -> str:
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
    shown_state = _shown_state(state)
    return (
        f'<g class="node h-{node.health} {node.kind}" data-node="{esc(node.name)}" tabindex="0">'
        f"<title>{esc(chr(10).join(title))}</title>"
        f'<circle cx="{x}" cy="{y}" r="{NODE_R}"/>'
        f'<text class="inner" x="{x}" y="{y + fonts.inner * 0.35:.1f}" font-size="{fonts.inner:g}">{esc(inner)}</text>'
        f'<text class="name" x="{x}" y="{name_baseline(place, fonts):.1f}" font-size="{fonts.name:g}">'
        f"{esc(node.name)}</text>"
        + (
            f'<text class="state" x="{x}" y="{name_baseline(place, fonts, 1):.1f}" font-size="{fonts.name:g}">'
            f"{esc(shown_state)}</text>"
            if shown_state
            else ""
        )
        + "</g>"
    )


def _shown_state(state: str | None) -> str:
    """A process state worth a line under the node's name: anything but ready."""
    return state if state and state != "ready" else ""


def _span(edge: Edge, ctx: Context) -> float:
    (x1, y1), (x2, y2) = ctx.layout.place(edge.source), ctx.layout.place(edge.target)
    return math.hypot(x2 - x1, y2 - y1)


def labels(graph: Graph, ctx: Context, nodes: list[Node], states: dict[str, str], fonts: Fonts):
    """Where each edge's label goes (edge key → (x, top)) and every box drawn (nodes, then labels). The
    shortest edges choose their spot first, having the fewest to choose from; then a label that still
    overlaps something looks again with every other label in place (a few rounds)."""
    fixed: list[Box] = []
    for node in nodes:
        fixed += node_boxes(ctx.layout.place(node.name), node.name, _shown_state(states.get(node.name)), fonts)
    wanted = []
    for edge in sorted(graph.edges, key=lambda e: _span(e, ctx)):  # the shortest have the fewest spots
        lines = edge_label(edge) + edge_badges(edge)
        if lines:
            wanted.append((edge.key, *_geometry(edge, ctx), lines))
    placed: dict[tuple[str, str], tuple[float, float, Box]] = {}
    for key, geometry, prefer, lines in wanted:
        placed[key] = place_label(geometry, lines, fonts.label, fixed + [b for _, _, b in placed.values()], prefer)
    for _ in range(REPAIR_ROUNDS):
        moved = False
        for key, geometry, prefer, lines in wanted:
            others = fixed + [b for k, (_, _, b) in placed.items() if k != key]
            if any(placed[key][2].overlaps(o) for o in others):
                again = place_label(geometry, lines, fonts.label, others, prefer)
                if _clash(again[2], others) < _clash(placed[key][2], others):
                    placed[key], moved = again, True
        if not moved:
            break
    return {k: (x, top) for k, (x, top, _) in placed.items()}, fixed + [b for _, _, b in placed.values()]


def _clash(box: Box, others: list[Box]) -> int:
    return sum(box.overlaps(o) for o in others)


def svg(graph: Graph, ctx: Context, states: dict[str, str]) -> Markup:
    used = {n for e in graph.edges for n in e.key}
    nodes = [n for n in graph.nodes if n.name in used or n.kind in ("service", "database", "client")]
    fonts = PRESENT if ctx.present else NORMAL
    spots, _ = labels(graph, ctx, nodes, states, fonts)
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
        + "".join(_edge(e, ctx, graph.window_s, spots.get(e.key), fonts) for e in edges)
        + "".join(_node(n, ctx.layout.place(n.name), states.get(n.name), fonts) for n in nodes)
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
