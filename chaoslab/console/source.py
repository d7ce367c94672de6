"""Where the console's data comes from: one interface, one implementation per place the lab runs.

``Source`` is all a page may read. The trainee's half (graph, traces, metrics, changes, alerts, the
incident record, processes) is what an on-call engineer could read at work; ``faults``, ``scenario`` and
``score`` read the fault journals or the answer key, and only the instructor's panels call them. ``LocalSource``
(chaoslab/local/console.py) reads the lab daemon's stores; ``KubernetesSource`` (chaoslab/kubernetes/console.py)
reads Jaeger's query API, Prometheus and the team's ConfigMaps.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from typing import Protocol

from chaoslab.servicegraph import Graph, TraceRef

SLOT_S = 2.0
"""The graph is taken once per slot of wall time this wide (``Slots``): the page, the API and the
recorder read the same picture within one, so a replay shows what the page showed."""


class Source(Protocol):
    where: str
    """Which lab, for the page's title: "team red's local lab" or "namespace chaoslab-red"."""

    # ---- what a trainee may see ----------------------------------------------------------------
    def graph(self, window_s: float) -> Graph:
        """The service graph over the last ``window_s`` seconds (one per ``SLOT_S`` slot, ``Slots``)."""

    def traces_through(
        self, window_s: float, source: str | None = None, target: str | None = None, node: str | None = None
    ) -> dict[str, list[TraceRef]]:
        """Recent failed, slow and open calls through an edge or touching a node."""

    def edge_history(self, window_s: float, source: str, target: str) -> list[dict]:
        """One edge's rate, failed share and p95 per few seconds (chaoslab.servicegraph's ``history``)."""

    def trace(self, trace_id: str) -> list[dict] | None:
        """Every span of one trace that is still kept (span dicts, chaoslab/local/tracestore.py), or None."""

    def metrics(self) -> dict[str, str | None]:
        """Each service's /metrics text now (None: it did not answer), and the synthetic prober's under
        its name when it answered (the business tiles' stand-in for a silent front door)."""

    def processes(self) -> dict[str, str]:
        """Each process's state (ready, unready, restarting, crash-loop, stopped), as `kubectl get pods`
        would show it."""

    def changes(self, since: float) -> list[dict]:
        """The change feed (deploys) since ``since`` (wall seconds), oldest first."""

    def alerts(self) -> dict | None:
        """Firing and pending alerts (GET /api/alerts's document), or None where alert evaluation is
        not available yet."""

    def incident(self) -> dict | None:
        """The open incident (else the latest) as a trainee may read it: chaoslab/console/incidents.py's
        ``trainee_view`` of the team's record, with its timeline and triage answers; None: no incident."""

    def notices(self, seen: int | None) -> tuple[int, list]:
        """chaoslab/incident/notify.py's ``since`` on the team's record: (its length, the notices after
        its first ``seen`` entries)."""

    def status_page(self) -> dict:
        """The shop's public status page (chaoslab/incident/statuspage.py's ``build`` of the team's record)."""

    # ---- the instructor's only ---------------------------------------------------------------
    def faults(self) -> list[dict]:
        """Active faults from the audit log, with kind, service, where, params, expiry, scenario."""

    def scenario(self) -> dict | None:
        """The running scenario's note (id, started_at, hints_shown, ...), or None."""

    def score(self) -> dict | None:
        """The latest incident's score, graded (chaoslab/console/incidents.py's ``instructor_score``), or
        None: no incident yet."""

    def gameday(self) -> dict | None:
        """The GameDay the team plays or played (chaoslab/incident/gameday.py's record), or None."""


class Slots:
    """One graph per window and ``SLOT_S`` slot of wall time: the first reader in a slot takes it, the
    others in that slot get the same one."""

    def __init__(self, take: Callable[[float], Graph], clock: Callable[[], float] = time.time):
        self.take = take
        self.clock = clock
        self._taken: dict[float, tuple[int, Graph]] = {}
        self._lock = threading.Lock()

    def graph(self, window_s: float) -> Graph:
        slot = math.floor(self.clock() / SLOT_S)
        with self._lock:
            found = self._taken.get(window_s)
            if found is not None and found[0] == slot:
                return found[1]
            taken = self.take(window_s)
            self._taken[window_s] = (slot, taken)
            return taken
