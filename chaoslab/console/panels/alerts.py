"""Firing and pending alerts with their tier, from the lab's alert evaluation (GET /api/alerts).

Alert evaluation arrives with chaoslab/alerts (issue 10); until the source has it, the panel says so.
"""

from __future__ import annotations

from markupsafe import Markup

from chaoslab.console.panels import Context, Panel
from chaoslab.console.render import esc


def render(ctx: Context) -> Markup:
    document = ctx.source.alerts()
    if document is None:
        return Markup(
            '<p class="muted placeholder">Alert evaluation is not part of this lab yet (chaoslab/alerts, '
            "issue 10): until then, watch the graph and the business panels.</p>"
        )
    alerts = [a for a in document.get("alerts", []) if a.get("state") in ("firing", "pending")]
    if not alerts:
        return Markup('<p class="muted">Nothing firing.</p>')
    alerts.sort(key=lambda a: (a.get("state") != "firing", str(a.get("severity", a.get("tier", "")))))
    rows = "".join(
        f'<li class="{esc(a.get("state", ""))}"><b>{esc(a.get("severity", a.get("tier", "")))}</b> '
        f"{esc(a.get('name', a.get('alertname', '?')))} <span class='muted'>{esc(a.get('state', ''))}</span>"
        f"<br>{esc(a.get('summary', ''))}</li>"
        for a in alerts
    )
    return Markup(f'<ul class="feed">{rows}</ul>')


PANEL = Panel("alerts", "Alerts", render, every_s=5.0)
