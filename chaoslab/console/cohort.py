"""The instructor's cohort page on the platform console: every team's live service graph side by side,
under the cohort's scoreboard and the GameDay's clock (`chaoslab gameday`), each card with the team's
stage and the shadow on-call's race beside it, refreshed every ``REFRESH_S`` without reloading the page.

GET /cohort/        the page (the instructor's token: ``?token=`` once, or ``Authorization: Bearer``)
GET /cohort/board   the scoreboard and the teams' cards, the fragment the page fetches

Each team's card is its console's own graph panel (same code, same colours) and links to the team's
full instructor view. A team whose telemetry or record cannot be read says so in its own card; the
others carry on.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from flask import Blueprint, Response, url_for
from markupsafe import Markup

from chaoslab.console import PREFIX
from chaoslab.console.business import MetricsHistory
from chaoslab.console.layout import Layout
from chaoslab.console.panel import Context
from chaoslab.console.panels import graph
from chaoslab.console.render import esc
from chaoslab.console.scoreboard import board
from chaoslab.console.source import Source
from chaoslab.console.web import Gate, render
from chaoslab.timefmt import clock as clock_time
from chaoslab.timefmt import duration

REFRESH_S = 5
WINDOW_S = 60
log = logging.getLogger("chaoslab.console")


def create_blueprint(sources: dict[str, Source], token: Callable[[], str]) -> Blueprint:
    cohort = Blueprint("cohort", __name__, static_folder="static", static_url_path="/static")
    gate = Gate(token, "open it as /cohort/?token=… with the platform console's token")
    contexts = {team: Context(source, WINDOW_S, True, MetricsHistory(), Layout()) for team, source in sources.items()}

    def scores() -> tuple[dict[str, dict | None], dict[str, str]]:
        found, failed = {}, {}
        for team, source in sources.items():
            try:
                found[team] = source.score()
            except Exception as exc:  # one team's unreadable record must not blank the cohort's board
                log.warning("cohort: the score of team %s could not be read: %s", team, exc)
                found[team], failed[team] = None, f"{type(exc).__name__}: {exc}"[:200]
        return found, failed

    def days() -> dict[str, dict]:
        found = {}
        for team, source in sources.items():
            try:
                record = source.gameday()
            except Exception as exc:  # as with scores: one team's record never blanks the room's
                log.warning("cohort: the GameDay of team %s could not be read: %s", team, exc)
                continue
            if record:
                found[team] = record
        return found

    def fragment() -> str:
        found, failed = scores()
        played = days()
        cards = []
        for team, ctx in contexts.items():
            score = found.get(team)
            state = (
                f"{esc(score.get('incident', ''))} {esc(score.get('severity', ''))} · {esc(score.get('state', ''))}"
                f" · {esc(score.get('stage', ''))}"
                if score
                else "no incident"
            )
            trouble = (
                f'<p class="alert-line">Its record could not be read: {esc(failed[team])}</p>' if team in failed else ""
            )
            cards.append(
                f'<section class="panel card" data-team="{esc(team)}"><h2>'
                f'<a href="../teams/{esc(team)}{PREFIX}/instructor">{esc(team)}</a> '
                f'<span class="muted">{state}</span></h2>{shadow_lane(score)}{trouble}'
                f"{render(graph.PANEL, ctx)}</section>"
            )
        return (
            f"{clock(played)}"
            f'<section class="panel"><h2>Scoreboard</h2>{board(found)}</section>'
            f'{graph.legend()}<div class="cohort-grid">{"".join(cards)}</div>'
        )

    @cohort.get("/")
    def page():
        refused = gate.enter(url_for(".page"))
        if refused is not None:
            return refused
        return Response(_page(Markup(fragment()), len(sources)), mimetype="text/html")

    @cohort.get("/board")
    def board_fragment():
        if not gate.allows():
            return Response("the cohort page needs the platform console's token", 401, mimetype="text/plain")
        return Response(fragment(), mimetype="text/html", headers={"Cache-Control": "no-store"})

    return cohort


def shadow_lane(score: dict | None) -> str:
    """The shadow on-call's race beside the team's, on its card: when it named the root cause, or how
    many answers it has given without (its answers are the instructor's to see at any time)."""
    if not score or not score.get("graded"):
        return ""
    answers = score.get("shadow_answers") or 0
    found = score.get("shadow_ttrc_s")
    if found is not None:
        said = f"named the root cause at {duration(found)}"
        team = score.get("ttrc_s")
        if team is not None:
            said += f", the team {'first' if team <= found else 'after it'} at {duration(team)}"
    elif answers:
        said = f"{answers} answer{'s' if answers != 1 else ''}, none right yet"
    else:
        said = "no answer yet"
    state = "found" if found is not None else "looking"
    return f'<p class="shadow-lane" data-shadow="{state}">shadow on-call: {esc(said)}</p>'


def clock(played: dict[str, dict], now: float | None = None) -> str:
    """The GameDay's line over the board: its name, how long it has run and has left (its break, during
    one; or how long it ran), and the teams playing it; "" when no team plays one."""
    if not played:
        return ""
    now = time.time() if now is None else now
    latest = max(played.values(), key=lambda r: r.get("started_at", 0))
    teams = sorted(t for t, r in played.items() if r.get("name") == latest.get("name"))
    started = latest.get("started_at", now)
    if latest.get("ended_at"):
        said = f"ended after {duration(latest['ended_at'] - started)}"
    elif latest.get("break_until", 0) > now:
        said = f"on a break until {clock_time(latest['break_until'])}, {duration(latest['break_until'] - now)} more"
    else:
        said = f"running for {duration(now - started)}, {duration(max(0, latest.get('ends_at', now) - now))} left"
    return (
        f'<section class="panel gameday" data-gameday="{esc(latest.get("name", ""))}"><h2>GameDay '
        f'{esc(latest.get("name", ""))}</h2><p><span class="gameday-clock">{esc(said)}</span> · '
        f"{len(teams)} team(s): {esc(', '.join(teams))}</p></section>"
    )


def _page(body: Markup, teams: int) -> str:
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><link rel="icon" href="data:,">
<title>chaoslab cohort · {teams} teams</title>
<link rel="stylesheet" href="static/console.css"></head>
<body class="cohort">
<header><h1>chaoslab cohort</h1><span class="where">{teams} teams · last {WINDOW_S // 60} min</span>
<span class="view instructor">instructor</span><span class="live" id="live">updated now</span></header>
<main class="cohort-main" id="board">{body}</main>
<script>
// Swap in the board every {REFRESH_S} s: no build step, no library.
setInterval(function () {{
  fetch("board", {{cache: "no-store"}})
    .then(function (r) {{ return r.ok ? r.text() : Promise.reject(r.status); }})
    .then(function (html) {{
      document.getElementById("board").innerHTML = html;
      document.getElementById("live").textContent = "updated " + new Date().toLocaleTimeString();
    }})
    .catch(function () {{ document.getElementById("live").textContent = "no answer from the console"; }});
}}, {REFRESH_S * 1000});
</script></body></html>"""
