"""The console's panels. A panel is one module with a ``PANEL`` (chaoslab.console.panel) and one line in
``panels`` below.

Each panel renders its own HTML from a ``Context`` on the server; the page refreshes each panel every
``every_s`` seconds over Server-Sent Events. ``audience="instructor"`` panels are rendered only for
the instructor's view, and only they may call the source's ``faults``, ``scenario`` and ``score``.
"""

from __future__ import annotations

from chaoslab.console.panel import Panel
from chaoslab.console.panels import alerts, business, changes, drill, graph, incident, instructor


def panels() -> list[Panel]:
    """Every panel, in page order."""
    return [
        graph.PANEL,
        business.PANEL,
        instructor.PANEL,
        alerts.PANEL,
        incident.PANEL,
        changes.PANEL,
        drill.PANEL,
    ]
