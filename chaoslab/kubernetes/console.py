"""The console's data for one team on a cluster: the platform's Jaeger (traces, and the service graph
built from them with the same code as locally), the team's services' /metrics by their Service names,
Prometheus's alerts for the team, and the team's journals in its namespace's ConfigMap.

What runs it: ``chaoslab console-server`` in the platform namespace (``serve``), with a
ServiceAccount that may read the teams' ConfigMaps (charts/chaoslab/templates/console.yaml).
"""

from __future__ import annotations

import json
import logging
import sys
import threading
import time
import urllib.error

from chaoslab.backend import team_namespace
from chaoslab.chaos.controller import AUDIT, CHANGES, SCENARIO
from chaoslab.chaos.journal import Journal, open_faults
from chaoslab.chaos.kubernetes.client import api_client
from chaoslab.console.incidents import instructor_score, trainee_view
from chaoslab.console.recording import Recorder
from chaoslab.console.server import create_app, recordings, teams
from chaoslab.console.web import MAX_STREAMS
from chaoslab.incident import gameday, notify, statuspage
from chaoslab.incident.record import IncidentLog
from chaoslab.kubernetes import prometheus
from chaoslab.kubernetes.jaeger import JaegerQuery
from chaoslab.kubernetes.store import ConfigMapStore
from chaoslab.kubernetes.tracefeed import TraceFeed
from chaoslab.servicegraph import Graph, TraceRef
from chaoslab.settings import Common, Console, load
from chaoslab.topology import COMPONENTS, PROBER
from chaoslab.wsgi import HttpServer

log = logging.getLogger("chaoslab.console")


class KubernetesSource:
    def __init__(self, team: str, jaeger_url: str, prometheus_url: str, api=None, clock=time.time):
        self.team = team
        self.namespace = team_namespace(team)
        self.where = f"team {team} (namespace {self.namespace})"
        self.jaeger = JaegerQuery(jaeger_url, team)
        self.feed = TraceFeed(self.jaeger, clock)
        self.prometheus_url = prometheus_url.rstrip("/")
        self._api = api
        self.clock = clock

    def graph(self, window_s: float) -> Graph:
        return self.feed.refresh().snapshot(window_s)

    def traces_through(
        self, window_s: float, source: str | None = None, target: str | None = None, node: str | None = None
    ) -> dict[str, list[TraceRef]]:
        return self.feed.refresh().traces(window_s, source=source, target=target, node=node)

    def edge_history(self, window_s: float, source: str, target: str) -> list[dict]:
        return self.feed.refresh().history(source, target, window_s)

    def trace(self, trace_id: str) -> list[dict] | None:
        return self.jaeger.trace(trace_id)

    def processes(self) -> dict[str, str]:
        return {}

    def metrics(self) -> dict[str, str | None]:
        """Every service's /metrics, and the synthetic prober's (the business tiles' stand-in for a silent
        front door)."""
        texts = {}
        for name, port in [(c.name, c.http_port) for c in COMPONENTS] + [(PROBER.name, PROBER.port)]:
            try:
                with prometheus.DIRECT.open(f"http://{name}.{self.namespace}:{port}/metrics", timeout=1.0) as answer:
                    texts[name] = answer.read().decode(errors="replace")
            except (urllib.error.URLError, OSError, ValueError):
                if name != PROBER.name:  # a missing stand-in is no silent service
                    texts[name] = None
        return texts

    def changes(self, since: float) -> list[dict]:
        return Journal(self._store(), CHANGES).entries(since_ts=since)

    def alerts(self) -> dict | None:
        """Prometheus's alerts of this team, shaped like the lab daemon's GET /api/alerts."""
        try:
            found = prometheus.alerts(self.prometheus_url, timeout_s=2.0)
        except prometheus.PrometheusUnreachable:
            return None
        mine = [a for a in found if a.get("labels", {}).get("team") in (self.team, None)]
        return {
            "alerts": [
                {
                    "alert": a["labels"].get("alertname", "?"),
                    "state": a.get("state", ""),
                    "severity": a["labels"].get("severity", ""),
                    "summary": a.get("annotations", {}).get("summary", ""),
                }
                for a in mine
            ]
        }

    def incident(self) -> dict | None:
        return trainee_view(self._store())

    def notices(self, seen: int | None) -> tuple[int, list]:
        return notify.since(IncidentLog(self._store()), seen, settle=False)  # the console only reads a board

    def status_page(self) -> dict:
        return statuspage.build(self._store())

    def faults(self) -> list[dict]:
        now = time.time()
        opened = open_faults(Journal(self._store(), AUDIT).entries())
        return sorted((f for f in opened.values() if f.get("expires_at", 0) > now), key=lambda f: f["ts"])

    def scenario(self) -> dict | None:
        try:
            note = json.loads(self._store().read(SCENARIO) or "null")
        except ValueError:
            return None
        return note if note and note.get("expires_at", 0) > time.time() else None

    def score(self) -> dict | None:
        return instructor_score(self._store())

    def gameday(self) -> dict | None:
        return gameday.record_in(self._store())

    def _store(self):
        if self._api is None:
            self._api = api_client()
        return ConfigMapStore(self._api, self.namespace)


def serve() -> int:
    """The platform's console (``chaoslab console-server``, the chart's console Deployment): every team's
    console in one process, each team's data from the platform's Jaeger and Prometheus."""
    logging.basicConfig(level=logging.INFO, stream=sys.stdout, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    settings = load(Console)
    names = teams(settings)
    if not names:
        log.error("CHAOSLAB_CONSOLE_TEAMS is empty: name the teams to show, e.g. red,blue,green")
        return 2
    sources = {t: KubernetesSource(t, settings.jaeger_url, settings.prometheus_url) for t in names}
    stopping = threading.Event()
    for team, source in sources.items():
        kept = recordings(settings, team)
        if kept is not None:
            recorder = Recorder(source, kept, team)
            threading.Thread(target=recorder.run, args=(stopping,), name=f"recorder-{team}", daemon=True).start()
    threads = 16 + MAX_STREAMS  # the streams hold theirs (chaoslab.console.web)
    server = HttpServer(
        create_app(settings, sources), load(Common).bind_host, settings.port, threads, "console"
    ).start()
    log.info("console for %s on %s", settings.teams, server.url)
    stopping.wait()
    return 0
