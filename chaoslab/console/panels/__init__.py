"""The console's panels. A panel is one module with a ``PANEL`` and one line in ``PANELS`` below.

Each panel renders its own HTML from a ``Context`` on the server; the page refreshes each panel every
``every_s`` seconds over Server-Sent Events. ``audience="instructor"`` panels are rendered only for
the instructor's view, and only they may call the source's ``faults``, ``scenario`` and ``score``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from markupsafe import Markup

from chaoslab.console.business import MetricsHistory
from chaoslab.console.layout import Layout
from chaoslab.console.source import Source

TRAINEE, INSTRUCTOR = "trainee", "instructor"


@dataclass
class Context:
    """What a panel may read while it renders."""

    source: Source
    window_s: float
    instructor: bool
    history: MetricsHistory
    layout: Layout


@dataclass(frozen=True)
class Panel:
    id: str
    title: str
    render: Callable[[Context], Markup]
    every_s: float = 5.0
    audience: str = TRAINEE
    area: str = "side"
    """Where on the page: main (under the graph), side (right column), graph (the graph itself)."""

    def visible_to(self, instructor: bool) -> bool:
        return instructor or self.audience == TRAINEE


def panels() -> list[Panel]:
    """Every panel, in page order."""
    from chaoslab.console.panels import alerts, business, changes, drill, graph, incident, instructor

    return [
        graph.PANEL,
        business.PANEL,
        instructor.PANEL,
        alerts.PANEL,
        incident.PANEL,
        changes.PANEL,
        drill.PANEL,
    ]
