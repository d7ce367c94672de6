"""The graph's labels are placed, not hoped for: with every edge the lab can draw carrying its widest
figures and calls open, and the deadlock's cycle its badges (new, unanswered: the most any drill of the
catalogue draws), in the normal view and in projection mode, no label overlaps a node, a node's name or
another label, and every one stays inside the drawing (tests/integration/test_console.py measures the
real boxes in the browser)."""

from __future__ import annotations

import dataclasses

import pytest

from chaoslab.console.business import MetricsHistory
from chaoslab.console.layout import NORMAL, PRESENT, Layout
from chaoslab.console.panel import Context
from chaoslab.console.panels.graph import edge_badges, edge_label, labels
from chaoslab.servicegraph import Edge, Graph, HealthyEdges, Node

EVERY_EDGE = sorted(HealthyEdges.from_topology().edges | {("service-c", "service-a")})
"""Every edge of the healthy lab and the deadlock's way back."""


def widest(source: str, target: str) -> Edge:
    """An edge with the longest figures a lab shows: a three-digit rate, a 100 % failed share, a p95 in
    seconds, dozens of calls open and unanswered, and new."""
    return Edge(
        source=source,
        target=target,
        connection="request",
        requests=9999,
        errors=9999,
        unanswered=50,
        in_flight=99,
        open_unanswered=49,
        oldest_open_ms=9999.0,
        rate=999.0,
        error_share=1.0,
        p50_ms=9999.0,
        p95_ms=9999.0,
        p99_ms=9999.0,
        server_p95_ms=9999.0,
        new=True,
        health="failed",
    )


def node(name: str) -> Node:
    kind = "client" if name == "client" else "database" if name in ("postgres", "redis") else "service"
    return Node(name, kind, 1, 0, 1.0, 0.0, 1.0, 0, 0, "healthy")


CYCLE = {("service-a", "service-b"), ("service-b", "service-c"), ("service-c", "service-a")}


@pytest.mark.parametrize("fonts", [NORMAL, PRESENT], ids=["normal", "present"])
def test_no_label_overlaps_a_node_a_name_or_another_label(fonts):
    quiet = {"new": False, "unanswered": 0, "open_unanswered": 0}
    edges = tuple(
        widest(s, t) if (s, t) in CYCLE else dataclasses.replace(widest(s, t), **quiet) for s, t in EVERY_EDGE
    )
    names = sorted({n for e in edges for n in e.key})
    graph = Graph(60, 0.0, tuple(node(n) for n in names), edges)
    ctx = Context(None, 60, False, MetricsHistory(), Layout(), present=fonts is PRESENT)
    states = {"service-a": "restarting"}  # a node's state line takes room too
    spots, taken = labels(graph, ctx, list(graph.nodes), states, fonts)
    assert set(spots) == {e.key for e in edges}
    assert all(len(edge_label(e)) == 3 for e in edges) and all(edge_badges(e) for e in edges if e.key in CYCLE)
    drawn = 2 * len(names)  # the nodes' boxes first, two each: a circle and its name, which may touch
    clashes = [
        (a, b) for i, a in enumerate(taken) for j, b in enumerate(taken) if i < j and j >= drawn and a.overlaps(b)
    ]
    assert clashes == [], clashes
    assert all(b.inside for b in taken[drawn:])
