"""One team's service graph on a cluster, fed from Jaeger as its spans arrive there, each span once.

Rebuilding the graph from a search of the window's traces counted a sample: Jaeger answers a search
with its newest ``limit`` traces, and at the default load a minute holds over a thousand, so the
console showed a third of the team's traffic (7.8 requests/s at the front door where Locust sent 26).
The feed instead asks Jaeger, every refresh, only for what started since the last one (less
``LATE_S``: spans reach Jaeger after the exporters' and the collector's batching), and separately for
the long calls of the whole retention (``LONG_S`` and more), which start long before they end and are
exported. Spans already counted are skipped, so a trace read by several searches (through service-a,
then through the worker that fulfilled it) adds each of its spans once. It costs about what the
searches it replaces did.

Each refresh searches its time in steps of ``STEP_S`` and feeds each answer to the graph before it
asks for the next, so the console holds one step's traces at a time. The first refresh reads the whole
retention: read in one search per service, it held twelve answers of up to 3,000 traces each, and the
platform console was killed at its 512 MiB limit on the first view of the cohort page while two teams
ran the default load.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from chaoslab.kubernetes.jaeger import JaegerQuery
from chaoslab.servicegraph import HealthyEdges, ServiceGraph
from chaoslab.topology import FRONT_DOOR, SERVICE_NAMES

REFRESH_S = 5.0
"""How often Jaeger is asked for the new spans (each refresh searches every service once for each STEP_S
of its time, about twenty seconds, and once for the long calls)."""
LATE_S = 15.0
"""How far back each refresh searches by start time: a call shorter than LONG_S that started that long
ago has ended and been exported (the services' and the collector's batching, about ten seconds)."""
LONG_S = LATE_S - 10.0
"""Calls at least this long are read by their own search over the whole retention: they may reach
Jaeger long after they started (a timeout of 5 s, a call that hangs)."""
STEP_S = 10.0
"""The time one search covers: about 260 traces of the default load (a few MiB of Jaeger's JSON)."""
FETCH_LIMIT = 1000
"""Traces one search may return: 38 s of the default load, far above what a step holds."""
RETENTION_S = 300.0
"""The longest window the console shows."""
PRUNE_EVERY_S = 60.0


class TraceFeed:
    def __init__(self, jaeger: JaegerQuery, clock: Callable[[], float] = time.time):
        self.jaeger = jaeger
        self.clock = clock
        # Spans of one trace may come a refresh apart (each service exports on its own): a call waits
        # that long for its answer before it counts as unanswered.
        self.graph = ServiceGraph(
            baseline=HealthyEdges.from_topology(), retention_s=RETENTION_S, pairing_wait_s=LATE_S, clock=clock
        )
        self._seen: dict[str, float] = {}  # trace and span id -> when it ended (wall s), kept for the retention
        self._until: float | None = None  # the end of the last refresh's search
        self._pruned_at = 0.0
        self._lock = threading.Lock()

    def refresh(self) -> ServiceGraph:
        """The graph, with whatever reached Jaeger since the last refresh (at most every REFRESH_S)."""
        with self._lock:
            now = self.clock()
            if self._until is not None and now - self._until < REFRESH_S:
                return self.graph
            start = now - RETENTION_S if self._until is None else max(self._until - LATE_S, now - RETENTION_S)
            services = (FRONT_DOOR, *(s for s in SERVICE_NAMES if s != FRONT_DOOR))
            for service in services:
                self._take(self.jaeger.between(service, now - RETENTION_S, now, FETCH_LIMIT, min_duration_s=LONG_S))
            while start < now:
                end = min(start + STEP_S, now)
                for service in services:
                    self._take(self.jaeger.between(service, start, end, FETCH_LIMIT))
                start = end
            self._until = now
            if now - self._pruned_at >= PRUNE_EVERY_S:
                forget = now - RETENTION_S - LATE_S
                self._seen = {key: ended for key, ended in self._seen.items() if ended >= forget}
                self._pruned_at = now
            return self.graph

    def _take(self, traces: list[list[dict]]) -> None:
        """Feed the graph the spans of ``traces`` it has not had yet (each span once)."""
        new = []
        for spans in traces:
            for span in spans:
                key = span["trace_id"] + span["span_id"]
                if key not in self._seen:
                    self._seen[key] = span["end_ns"] / 1e9
                    new.append(span)
        self.graph.add(new)
