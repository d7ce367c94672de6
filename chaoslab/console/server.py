"""The console as a process of its own: the container entry point of the platform's console Deployment.

``chaoslab console-server`` (or ``python -m chaoslab.console.server``) serves, for every team of
CHAOSLAB_CONSOLE_TEAMS, the same pages the lab daemon serves locally, at /teams/<team>/console/, each
reading its team's telemetry through a ``ClusterSource``; /cohort/ shows the instructor every team's
graph side by side with the scoreboard (chaoslab/console/cohort.py); / lists the teams. Settings:
chaoslab.settings.Console (CHAOSLAB_CONSOLE_*).
"""

from __future__ import annotations

import logging
import secrets
import sys
import threading

from flask import Flask, Response

from chaoslab.console import PREFIX
from chaoslab.console.cohort import create_blueprint as create_cohort_blueprint
from chaoslab.console.render import esc
from chaoslab.console.web import create_blueprint
from chaoslab.settings import Common, Console, load

log = logging.getLogger("chaoslab.console")


def create_app(settings: Console, sources: dict | None = None) -> Flask:
    """One console per team; ``sources`` (team → Source) defaults to each team's ClusterSource."""
    from chaoslab.console.cluster import ClusterSource

    teams = [t.strip() for t in settings.teams.split(",") if t.strip()]
    if sources is None:
        sources = {t: ClusterSource(t, settings.jaeger_url, settings.prometheus_url) for t in teams}
    # No token configured: the instructor view stays shut (a random token nobody knows).
    token = settings.token or secrets.token_urlsafe(32)
    app = Flask("chaoslab-console")
    for team, source in sources.items():
        app.register_blueprint(
            create_blueprint(source, lambda: token), url_prefix=f"/teams/{team}{PREFIX}", name=f"console-{team}"
        )

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


def main() -> int:
    from chaoslab.wsgi import HttpServer

    logging.basicConfig(level=logging.INFO, stream=sys.stdout, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    settings = load(Console)
    if not settings.teams.strip():
        log.error("CHAOSLAB_CONSOLE_TEAMS is empty: name the teams to show, e.g. red,blue,green")
        return 2
    server = HttpServer(create_app(settings), load(Common).bind_host, settings.port, 16, "console").start()
    log.info("console for %s on %s", settings.teams, server.url)
    threading.Event().wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
