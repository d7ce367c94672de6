"""Firing and pending alerts with their tier, from the lab's alert evaluation (GET /api/alerts's
document: ``alert``, ``severity``, ``state``, ``summary`` per alert); a source without alert
evaluation says so."""

from __future__ import annotations

from markupsafe import Markup

from chaoslab.console.panel import Context, Panel
from chaoslab.console.render import esc


def render(ctx: Context) -> Markup:
    document = ctx.source.alerts()
    if document is None:
        return Markup(
            '<p class="muted placeholder">No alert evaluation answered (the lab daemon\'s, or Prometheus on a '
            "cluster): watch the graph and the business panels.</p>"
        )
    alerts = [a for a in document.get("alerts", []) if a.get("state") in ("firing", "pending")]
    if not alerts:
        return Markup('<p class="muted">Nothing firing.</p>')
    alerts.sort(key=lambda a: (a.get("state") != "firing", str(a.get("severity", ""))))
    rows = "".join(
        f'<li class="{esc(a.get("state", ""))}"><b>{esc(a.get("severity", ""))}</b> '
        f"<span class='alert-name'>{esc(a.get('alert') or '?')}</span> "
        f"<span class='muted'>{esc(a.get('state', ''))}</span>"
        f"<br>{esc(a.get('summary', ''))}</li>"
        for a in alerts
    )
    return Markup(f'<ul class="feed">{rows}</ul>')


PANEL = Panel("alerts", "Alerts", render, every_s=5.0)
