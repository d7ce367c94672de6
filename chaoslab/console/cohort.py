"""The instructor's cohort page on the platform console: every team's live service graph side by side,
under the cohort's scoreboard, refreshed every ``REFRESH_S`` without reloading the page.

GET /cohort/        the page (the instructor's token: ``?token=`` once, or ``Authorization: Bearer``)
GET /cohort/board   the scoreboard and the teams' cards, the fragment the page fetches

Each team's card is its console's own graph panel (same code, same colours) and links to the team's
full instructor view. A team whose telemetry or record cannot be read says so in its own card; the
others carry on.
"""

from __future__ import annotations

import logging
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

    def fragment() -> str:
        found, failed = scores()
        cards = []
        for team, ctx in contexts.items():
            score = found.get(team)
            state = (
                f"{esc(score.get('incident', ''))} {esc(score.get('severity', ''))} · {esc(score.get('state', ''))}"
                if score
                else "no incident"
            )
            trouble = (
                f'<p class="alert-line">Its record could not be read: {esc(failed[team])}</p>' if team in failed else ""
            )
            cards.append(
                f'<section class="panel card" data-team="{esc(team)}"><h2>'
                f'<a href="../teams/{esc(team)}{PREFIX}/instructor">{esc(team)}</a> '
                f'<span class="muted">{state}</span></h2>{trouble}{render(graph.PANEL, ctx)}</section>'
            )
        return (
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
