"""The instructor's panel: the running scenario, its active faults (red herrings marked), the hints
given so far, and the team's score. Never rendered for trainees."""

from __future__ import annotations

from markupsafe import Markup

from chaoslab.chaos.scenarios import ScenarioError, get
from chaoslab.console.panel import INSTRUCTOR, Context, Panel
from chaoslab.console.render import ago, esc
from chaoslab.console.scoreboard import team_score


def _scenario(ctx: Context) -> str:
    note = ctx.source.scenario()
    if note is None:
        return '<p class="muted">No scenario running.</p>'

    try:
        scenario = get(note["id"])
    except ScenarioError:
        scenario = None
    shown = int(note.get("hints_shown", 0))
    html = (
        f'<p><b class="scenario-id">{esc(note["id"])}</b> {esc(scenario.title if scenario else "")} '
        f'<span class="muted">{esc(scenario.difficulty if scenario else "")}, started '
        f"{esc(ago(note['started_at'], ctx.now()))}, {esc(note.get('state', ''))}</span></p>"
    )
    if scenario is not None:
        html += f'<p class="muted">Root cause: {esc(scenario.root_cause.get("explanation", ""))}</p>'
        hints = "".join(f"<li>{esc(h)}</li>" for h in scenario.hints[:shown])
        html += f"<p>Hints given: {shown} of {len(scenario.hints)}</p>" + (f"<ol>{hints}</ol>" if hints else "")
    return html


def _faults(ctx: Context) -> str:
    faults = ctx.source.faults()
    if not faults:
        return '<p class="muted">No active faults.</p>'
    now = ctx.now()
    rows = "".join(
        f"<tr><td><b>{esc(f.get('kind', ''))}</b>{' <i>red herring</i>' if f.get('red_herring') else ''}</td>"
        f"<td>{esc(f.get('where') or f.get('service', ''))}</td>"
        f"<td>{esc(', '.join(f'{k}={v}' for k, v in (f.get('params') or {}).items()))}</td>"
        f"<td>{max(0.0, f.get('expires_at', now) - now):.0f}s left</td></tr>"
        for f in faults
    )
    return f'<table class="mini faults"><tr><th>fault</th><th>where</th><th>params</th><th>TTL</th></tr>{rows}</table>'


def render(ctx: Context) -> Markup:
    return Markup(f"{_scenario(ctx)}<h3>Active faults</h3>{_faults(ctx)}<h3>Score</h3>{team_score(ctx.source.score())}")


PANEL = Panel(
    "instructor", "Instructor: scenario, faults and score", render, every_s=3.0, audience=INSTRUCTOR, area="side"
)
