"""The console as an app of its own, for many teams: what the platform's console Deployment serves.

For every team, the same pages the lab daemon serves locally, at /teams/<team>/console/, each reading
its team's telemetry through its source, and the team's recorded drills at /teams/<team>/replay/ when
recordings are kept (CHAOSLAB_CONSOLE_RECORDINGS); /cohort/ shows the instructor every team's graph
side by side with the scoreboard (chaoslab/console/cohort.py); / lists the teams. ``chaoslab
console-server`` runs it with each team's KubernetesSource (chaoslab.kubernetes.console.serve), and
records each team's drills (chaoslab/console/recording.py). Settings: chaoslab.settings.Console
(CHAOSLAB_CONSOLE_*).
"""

from __future__ import annotations

import logging
import secrets
from pathlib import Path

from flask import Flask, Response

from chaoslab.console import PREFIX
from chaoslab.console.cohort import create_blueprint as create_cohort_blueprint
from chaoslab.console.render import esc
from chaoslab.console.replays import Replays
from chaoslab.console.web import create_blueprint
from chaoslab.settings import Console

log = logging.getLogger("chaoslab.console")


def teams(settings: Console) -> list[str]:
    """The teams the console shows (CHAOSLAB_CONSOLE_TEAMS)."""
    return [t.strip() for t in settings.teams.split(",") if t.strip()]


def recordings(settings: Console, team: str) -> Path | None:
    """Where a team's drills are recorded (CHAOSLAB_CONSOLE_RECORDINGS), or None: not recorded."""
    return Path(settings.recordings) / team if settings.recordings else None


def create_app(settings: Console, sources: dict) -> Flask:
    """One console per team, from ``sources`` (team → chaoslab.console.source.Source)."""
    # No token configured: the instructor view stays shut (a random token nobody knows).
    token = settings.token or secrets.token_urlsafe(32)
    app = Flask("chaoslab-console")
    for team, source in sources.items():
        kept = recordings(settings, team)
        app.register_blueprint(
            create_blueprint(source, lambda: token, recordings="../replay/" if kept else None),
            url_prefix=f"/teams/{team}{PREFIX}",
            name=f"console-{team}",
        )
        if kept:
            app.wsgi_app = Replays(app.wsgi_app, kept, lambda: token, root=f"/teams/{team}/replay")

    app.register_blueprint(create_cohort_blueprint(sources, lambda: token), url_prefix="/cohort")

    @app.get("/")
    def index():
        rows = "".join(
            f'<li><a href="teams/{esc(team)}{PREFIX}/">{esc(team)}</a> · '
            f'<a href="teams/{esc(team)}{PREFIX}/instructor">instructor</a></li>'
            for team in sources
        )
        return Response(
            '<!doctype html><html lang="en"><head><meta charset="utf-8"><link rel="icon" href="data:,">'
            f"<title>chaoslab console</title></head><body><h1>chaoslab console</h1><ul>{rows}</ul>"
            '<p><a href="cohort/">The cohort</a>: every team\'s graph side by side and the scoreboard '
            "(instructor).</p></body></html>",
            mimetype="text/html",
        )

    @app.get("/health/ready")
    def ready():
        return {"status": "ok", "teams": list(sources)}

    return app
