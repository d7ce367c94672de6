"""The diagnosis on a team's namespace: traces from the platform's Jaeger, series from its Prometheus,
the change feed from the team's board, pod states from the API server.

The CLI runs on a laptop, so Jaeger's query API and Prometheus's HTTP API are reached through the API
server's service proxy with the caller's own credentials (``raw_request``): what the caller may read
there is what the diagnosis reads. Jaeger's answer is turned into span dicts by the console's own
reader (chaoslab/kubernetes/jaeger.py) and recorded as one finished batch; Jaeger has no in-flight
copies, so calls still open do not show here (the local lab's daemon sees them).
"""

from __future__ import annotations

import json
import time
import urllib.parse

from kubernetes import client

from chaoslab.chaos.controller import CHANGES
from chaoslab.chaos.journal import Journal
from chaoslab.chaos.kubernetes.client import raw_request
from chaoslab.chaos.kubernetes.identity import PLATFORM_NAMESPACE
from chaoslab.diagnose.metrics import TimeSeries
from chaoslab.diagnose.record import Recorder
from chaoslab.errors import Refused
from chaoslab.incident.mystery import redact
from chaoslab.kubernetes.jaeger import JaegerQuery
from chaoslab.servicegraph import HealthyEdges, from_spans
from chaoslab.topology import FRONT_DOOR, SERVICE_NAMES

PLATFORM_SERVICES = {"jaeger": "jaeger:16686", "prometheus": "prometheus:9090"}
"""The platform release's Services (charts/chaoslab/templates/jaeger.yaml, prometheus.yaml)."""
TRACES_PER_SERVICE = 300
ALERTS_STEP_S = 5.0
"""Prometheus's rule evaluation interval on the chart (charts/chaoslab/templates/prometheus.yaml): an
ALERTS series whose newest sample is older than two intervals belongs to a resolved alert."""


def proxy_get(api, service: str, path: str, params: dict | None = None) -> dict:
    """GET a platform service's HTTP API through the API server's service proxy; its JSON answer."""
    query = ("?" + urllib.parse.urlencode(params)) if params else ""
    proxied = f"/api/v1/namespaces/{PLATFORM_NAMESPACE}/services/{PLATFORM_SERVICES[service]}/proxy{path}{query}"
    status, body = raw_request(api, "GET", proxied, timeout_s=20)
    if status != 200:
        raise Refused(f"{service} in {PLATFORM_NAMESPACE} answered HTTP {status} to {path}: is the platform installed?")
    return json.loads(body)


class ProxiedJaeger(JaegerQuery):
    """The console's Jaeger client, through the API server's service proxy."""

    def __init__(self, api, team: str | None):
        super().__init__("", team)
        self.api = api

    def _get(self, path: str, params: dict | None = None) -> dict:
        return proxy_get(self.api, "jaeger", path, params)


class PrometheusMetrics:
    """chaoslab.diagnose.metrics.Metrics on Prometheus: one range-vector query per select, the team's
    namespace only."""

    def __init__(self, api, namespace: str):
        self.api = api
        self.namespace = namespace
        self.scrapes = 0

    def select(self, name: str, start: float, end: float, **labels: str) -> list[TimeSeries]:
        matchers = ",".join([f'namespace="{self.namespace}"', *(f'{k}="{v}"' for k, v in labels.items())])
        document = proxy_get(
            self.api,
            "prometheus",
            "/api/v1/query",
            {"query": f"{name}{{{matchers}}}[{max(1, int(end - start))}s]", "time": f"{end:.3f}"},
        )
        found = []
        for item in document.get("data", {}).get("result", []):
            points = [(float(t), float(v)) for t, v in item.get("values", [])]
            found.append(TimeSeries({k: v for k, v in item.get("metric", {}).items() if k != "__name__"}, points))
            self.scrapes = max(self.scrapes, len(points))
        return found


class KubernetesInputs:
    """chaoslab.diagnose.evidence.Inputs for one team's namespace, read once when built."""

    def __init__(self, api, namespace: str, store, since_s: float, clock=time.time):
        self.where = f"namespace {namespace}"
        self.metrics = PrometheusMetrics(api, namespace)
        self._api = api
        self._namespace = namespace
        self._store = store
        self._at = clock()
        self._since_s = since_s
        team = namespace.removeprefix("chaoslab-")
        jaeger = ProxiedJaeger(api, team)
        traces: dict[str, list[dict]] = {}
        for service in (FRONT_DOOR, *(s for s in SERVICE_NAMES if s != FRONT_DOOR)):
            for spans in jaeger.recent(service, since_s, TRACES_PER_SERVICE):
                traces.setdefault(spans[0]["trace_id"], spans)
        spans = [s for trace in traces.values() for s in trace]
        self._recorder = Recorder(keep_s=since_s + 60, raw_s=since_s + 60, settle_s=0.0, clock=lambda: self._at)
        self._recorder.add(spans)
        self._recorder.flush()
        self._graph = from_spans(
            spans, now=self._at, baseline=HealthyEdges.from_topology(), retention_s=max(since_s, 300)
        )

    def now(self) -> float:
        return self._at

    def facts(self, start: float, end: float):
        return self._recorder.facts(start, end)

    def frames(self, start: float, end: float):
        return self._recorder.frames(start, end)

    def open_calls(self):
        return []

    def graph(self, window_s: float):
        return self._graph.snapshot(window_s)

    def changes(self, since: float) -> list[dict]:
        return [
            dict(c, summary=redact(str(c.get("summary", "")))) for c in Journal(self._store, CHANGES).entries(since)
        ]

    def alerts(self) -> list[dict]:
        """The team's alerts over the window, from Prometheus's own ``ALERTS`` series: each run of samples
        is one alert from when it went pending to its last sample (resolved if that is not now)."""
        found: dict[tuple, dict] = {}
        for series in self.metrics.select("ALERTS", self._at - self._since_s, self._at):
            labels = {k: v for k, v in series.labels.items() if k not in ("alertstate", "__name__")}
            key = tuple(sorted(labels.items()))
            doc = found.setdefault(key, {"alert": labels.get("alertname"), "severity": labels.get("severity")})
            doc["labels"] = labels
            first, last = series.points[0][0], series.points[-1][0]
            doc["active_at"] = min(doc.get("active_at", first), first)
            if series.labels.get("alertstate") == "firing":
                doc["fired_at"] = first
            doc["last"] = max(doc.get("last", last), last)
        for doc in found.values():
            last = doc.pop("last")
            current = last >= self._at - 2 * ALERTS_STEP_S
            doc["state"] = ("firing" if doc.get("fired_at") else "pending") if current else "resolved"
            doc["resolved_at"] = None if current else last
        return list(found.values())

    def processes(self) -> dict[str, dict]:
        pods = client.CoreV1Api(self._api).list_namespaced_pod(self._namespace).items
        found: dict[str, dict] = {}
        for pod in pods:
            service = (pod.metadata.labels or {}).get("app.kubernetes.io/name")
            if service not in SERVICE_NAMES:
                continue
            statuses = pod.status.container_statuses or []
            waiting = [s.state.waiting.reason for s in statuses if s.state and s.state.waiting]
            state = (
                "crash-loop"
                if "CrashLoopBackOff" in waiting
                else "ready"
                if all(s.ready for s in statuses)
                else "unready"
            )
            doc = found.setdefault(service, {"state": "ready", "restarts": 0})
            doc["restarts"] += sum(s.restart_count for s in statuses)
            if state != "ready":
                doc["state"] = state
        return found
