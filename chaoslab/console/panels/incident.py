"""The open incident (else the latest) and its timeline, as `chaoslab incident show` prints it to a trainee:
title, severity, state, commander and roles, when it was declared, an overdue status update, the latest
entries, and the team's open action items.
Deploys are in the change feed's panel beside it; the answer key is never read here."""

from __future__ import annotations

from markupsafe import Markup

from chaoslab import command
from chaoslab.console.panel import Context, Panel
from chaoslab.console.render import ago, clock, esc

LATEST = 10
"""Timeline entries shown, newest first (`chaoslab incident show` prints them all)."""
ACTIONS_SHOWN = 3
"""Open action items listed under the timeline (`chaoslab actions list` prints them all)."""


def render(ctx: Context) -> Markup:
    found = ctx.source.incident()
    if found is None:
        return Markup(
            f'<p class="muted">No incident yet. Open one from a report with <code>{esc(command("incident open TITLE"))}'
            "</code>; a P1 or P2 page opens one by itself.</p>"
        )
    head = (
        f'<p class="incident-head"><b class="sev">{esc(found["severity"])}</b> '
        f'<span class="incident-title">{esc(found["title"])}</span> <span class="muted">{esc(found["id"])}</span></p>'
        f'<p class="incident-meta"><span class="state state-{esc(found["state"].split(",")[0])}">'
        f"{esc(found['state'])}</span> · commander {esc(found['commander'] or 'none yet')} · declared "
        f'<span title="{esc(ago(found["declared_at"], ctx.now()))}">{esc(clock(found["declared_at"]))}</span> '
        f"by {esc(found['declared_by'] or '-')} ({esc(found['detected_by'])})</p>"
    )
    others = [f"{role} {name}" for role, name in found["roles"].items() if role != "commander"]
    if others:
        head += f'<p class="muted">roles: {esc(", ".join(others))}</p>'
    if found["firing"]:
        head += f'<p class="muted">firing: {esc(", ".join(found["firing"]))}</p>'
    overdue = found.get("overdue")
    if overdue:
        every = f" ({esc(found['severity'])}: one every {overdue['every_s'] / 60:g} min)" if overdue["every_s"] else ""
        head += (
            f'<p class="alert-line overdue">Status update overdue since {esc(clock(overdue["since"]))}{every}: '
            f"<code>{esc(command('incident update status'))}</code></p>"
        )
    if found["state"].startswith("resolved"):
        head += f'<p class="muted">Resolved; <code>{esc(command("incident open TITLE"))}</code> opens a new one.</p>'
    entries = found["timeline"][-LATEST:]
    rows = "".join(
        f'<li class="entry kind-{esc(e["kind"])}"><span class="when">{esc(clock(e["ts"]))}</span> '
        f'<b class="kind">{esc(e["kind"])}</b> <span class="text">{esc(e["text"])}</span>'
        + "".join(f' <span class="muted">[{esc(link)}]</span>' for link in e["links"])
        + "</li>"
        for e in reversed(entries)
    )
    more = len(found["timeline"]) - len(entries)
    tail = f'<p class="muted">{more} earlier: <code>{esc(command("incident show"))}</code></p>' if more > 0 else ""
    return Markup(f'{head}<ul class="feed timeline">{rows}</ul>{tail}{_actions(found["actions"])}')


def _actions(items: list[dict]) -> str:
    """The team's open action items, the first few: what the last review asked of whom, carried into
    every drill until someone marks it done."""
    if not items:
        return ""
    shown = "".join(
        f'<li><span class="muted">{esc(i["id"])}</span> {esc(i["text"])} <span class="muted">'
        f"({esc(i['owner'] or 'no owner')}{', due ' + esc(i['due']) if i['due'] else ''})</span></li>"
        for i in items[:ACTIONS_SHOWN]
    )
    return (
        f'<p class="actions-head"><b>Open action items: {len(items)}</b> · '
        f'<code>{esc(command("actions list"))}</code></p><ul class="feed actions">{shown}</ul>'
    )


PANEL = Panel("incident", "Incident", render, every_s=5.0)
