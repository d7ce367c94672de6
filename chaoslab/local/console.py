"""The console's data on the local lab: the lab daemon's own trace store, service graph, processes and
the journals in its state directory."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from chaoslab.chaos.controller import AUDIT, CHANGES, SCENARIO
from chaoslab.chaos.journal import FileStore, Journal, open_faults
from chaoslab.console import PREFIX
from chaoslab.console.incidents import instructor_score, trainee_view
from chaoslab.console.source import Slots
from chaoslab.console.web import create_blueprint
from chaoslab.incident import gameday, notify, statuspage
from chaoslab.incident.record import IncidentLog
from chaoslab.loadtest.verify import BASELINE_SLO
from chaoslab.local.statedir import StateDir
from chaoslab.local.tracestore import TraceStore
from chaoslab.servicegraph import Graph, HealthyEdges, ServiceGraph, Thresholds, TraceRef
from chaoslab.settings import Common, load
from chaoslab.topology import PROBER, SERVICE_NAMES

SCRAPE_TIMEOUT_S = 1.0
"""A service that does not answer /metrics within this is shown as not answering (its pool may be full)."""


class LocalSource:
    def __init__(
        self,
        state: StateDir,
        traces: TraceStore,
        graph: ServiceGraph,
        processes: Callable[[], list[dict]],
        alerts: Callable[[], dict] | None = None,
        prober: Callable[[], str] | None = None,
    ):
        """``prober``: the synthetic prober's exposition (it runs inside the daemon, with no port)."""
        self.state = state
        self.where = f"team {load(Common).team}'s local lab"  # a path means nothing in a browser across the room
        self._traces = traces
        self._graph = graph
        self._slots = Slots(graph.snapshot)
        self._processes = processes
        self._alerts = alerts
        self._prober = prober

    def graph(self, window_s: float) -> Graph:
        return self._slots.graph(window_s)

    def traces_through(
        self, window_s: float, source: str | None = None, target: str | None = None, node: str | None = None
    ) -> dict[str, list[TraceRef]]:
        return self._graph.traces(window_s, source=source, target=target, node=node)

    def edge_history(self, window_s: float, source: str, target: str) -> list[dict]:
        return self._graph.history(source, target, window_s)

    def trace(self, trace_id: str) -> list[dict] | None:
        found = self._traces.recent(1, trace_id=trace_id)
        return found[0] if found else None

    def processes(self) -> dict[str, str]:
        return {p["name"]: p["state"] for p in self._processes()}

    def metrics(self) -> dict[str, str | None]:
        urls = {p["name"]: p["url"] for p in self._processes() if p["name"] in SERVICE_NAMES and p.get("url")}
        with ThreadPoolExecutor(max_workers=max(1, len(urls)), thread_name_prefix="console-scrape") as pool:
            texts = dict(zip(urls, pool.map(_scrape, urls.values()), strict=True))
        if self._prober is not None:
            try:
                texts[PROBER.name] = self._prober()
            except Exception:  # a stalled prober (ProberStalled): no stand-in (and no service is silent)
                pass
        return texts

    def changes(self, since: float) -> list[dict]:
        return self._journal(CHANGES).entries(since_ts=since)

    def alerts(self) -> dict | None:
        return self._alerts() if self._alerts is not None else None

    def incident(self) -> dict | None:
        return trainee_view(FileStore(self.state.root))

    def notices(self, seen: int | None) -> tuple[int, list]:
        return notify.since(IncidentLog(FileStore(self.state.root)), seen)

    def status_page(self) -> dict:
        return statuspage.build(FileStore(self.state.root))

    def faults(self) -> list[dict]:
        now = time.time()
        opened = open_faults(self._journal(AUDIT).entries())
        return sorted((f for f in opened.values() if f.get("expires_at", 0) > now), key=lambda f: f["ts"])

    def scenario(self) -> dict | None:
        try:
            note = json.loads(FileStore(self.state.root).read(SCENARIO) or "null")
        except ValueError:
            return None
        return note if note and note.get("expires_at", 0) > time.time() else None

    def score(self) -> dict | None:
        return instructor_score(FileStore(self.state.root))

    def gameday(self) -> dict | None:
        return gameday.record_in(FileStore(self.state.root))

    def _journal(self, key: str):
        return Journal(FileStore(self.state.root), key)


_DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))
"""Loopback only: never through a proxy from the environment."""


def _scrape(url: str) -> str | None:
    try:
        with _DIRECT.open(f"{url}/metrics", timeout=SCRAPE_TIMEOUT_S) as response:
            return response.read().decode(errors="replace")
    except (urllib.error.URLError, OSError, ValueError):
        return None


def service_graph() -> ServiceGraph:
    """The lab daemon's service graph: new edges against the lab's design (chaoslab.topology), the
    front door judged against the baseline SLO's checkout p95."""
    checkout_p95 = next(c.max for c in BASELINE_SLO if c.measure == "p95_ms" and c.request == "POST /checkout")
    return ServiceGraph(baseline=HealthyEdges.from_topology(), thresholds=Thresholds(front_door_p95_ms=checkout_p95))


def mount(app, lab) -> LocalSource:
    """Serve the console at /console on the lab daemon's API (``lab``: chaoslab.local.daemon.Lab). Alerts
    come from the daemon's alert evaluation where it has one (chaoslab/alerts). The source, for the
    recorder to read what the pages read."""
    alerts = getattr(lab, "alerts", None)
    prober = getattr(lab, "prober", None)
    source = LocalSource(
        lab.state,
        lab.traces,
        lab.graph,
        lab.supervisor.snapshot,
        alerts=alerts.snapshot if alerts else None,
        prober=prober.exposition if prober else None,
    )
    app.register_blueprint(create_blueprint(source, lambda: lab.token, recordings="../replay/"), url_prefix=PREFIX)
    return source
