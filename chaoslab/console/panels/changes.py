"""The change feed: what was deployed, when, to which service, by whom (the trainee's "what changed?")."""

from __future__ import annotations

from markupsafe import Markup

from chaoslab.console.panel import Context, Panel
from chaoslab.console.render import ago, clock, esc
from chaoslab.incident.mystery import redact

SHOWN_S = 4 * 3600
"""How far back the feed goes (what `chaoslab changes` shows by default)."""


def render(ctx: Context) -> Markup:
    entries = ctx.source.changes(ctx.now() - SHOWN_S)[-12:]
    if not entries:
        return Markup('<p class="muted">No deploys in the last 4 hours.</p>')
    rows = "".join(
        f'<li><span class="when" title="{esc(clock(e["ts"]))}">{esc(ago(e["ts"], ctx.now()))}</span> '
        f"<b>{esc(e.get('service', '?'))}</b> {esc(e.get('version', ''))} "
        f'<span class="muted">by {esc(e.get("by", "?"))}</span><br>{esc(redact(str(e.get("summary", ""))))}</li>'
        for e in reversed(entries)
    )
    return Markup(f'<ul class="feed">{rows}</ul>')


PANEL = Panel("changes", "Change feed", render, every_s=5.0)
