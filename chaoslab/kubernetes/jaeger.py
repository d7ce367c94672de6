"""Jaeger's query API (``GET /api/traces``, ``GET /api/traces/<id>``) as the span dicts the lab daemon
keeps (chaoslab/local/tracestore.py), so the service graph and the waterfall read a cluster's traces
with the same code.

Jaeger stores OTLP spans with the kind as the ``span.kind`` tag and the status as ``otel.status_code``
and ``otel.status_description``; the service is the process's ``serviceName``; times are microseconds.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request

_KINDS = {"client", "server", "producer", "consumer", "internal"}


def _tags(items: list[dict] | None) -> dict:
    return {t["key"]: t.get("value") for t in items or ()}


def spans_from_jaeger(document: dict) -> list[list[dict]]:
    """Every trace of a query API answer, as lists of span dicts."""
    traces = []
    for trace in document.get("data") or ():
        processes = {pid: p for pid, p in (trace.get("processes") or {}).items()}
        spans = []
        for span in trace.get("spans") or ():
            tags = _tags(span.get("tags"))
            process = processes.get(span.get("processID"), {})
            parent = next((r["spanID"] for r in span.get("references") or () if r.get("refType") == "CHILD_OF"), None)
            kind = str(tags.pop("span.kind", "internal")).lower()
            code = str(tags.pop("otel.status_code", "")).upper()
            message = str(tags.pop("otel.status_description", ""))
            if tags.get("error") is True and not code:
                code = "ERROR"
            tags.pop("error", None)
            start_ns = int(span["startTime"]) * 1000
            spans.append(
                {
                    "trace_id": str(span["traceID"]).zfill(32),
                    "span_id": str(span["spanID"]).zfill(16),
                    "parent_id": str(parent).zfill(16) if parent else None,
                    "service": process.get("serviceName", "unknown"),
                    "team": _tags(process.get("tags")).get("chaoslab.team"),
                    "name": span.get("operationName", ""),
                    "kind": kind if kind in _KINDS else "internal",
                    "start_ns": start_ns,
                    "end_ns": start_ns + int(span.get("duration", 0)) * 1000,
                    "status": "error" if code == "ERROR" else "ok" if code == "OK" else "unset",
                    "status_message": message,
                    "attributes": tags,
                    "open": False,
                }
            )
        if spans:
            traces.append(spans)
    return traces


class JaegerQuery:
    """A small client of Jaeger's query API, for one team's spans (the ``chaoslab.team`` tag)."""

    def __init__(self, base_url: str, team: str | None = None, timeout_s: float = 5.0):
        self.base_url = base_url.rstrip("/")
        self.team = team
        self.timeout_s = timeout_s
        self._opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))

    def _get(self, path: str, params: dict | None = None) -> dict:
        query = ("?" + urllib.parse.urlencode(params)) if params else ""
        with self._opener.open(self.base_url + path + query, timeout=self.timeout_s) as response:
            return json.loads(response.read())

    def recent(self, service: str, lookback_s: float, limit: int = 200) -> list[list[dict]]:
        params = {"service": service, "lookback": f"{max(1, int(lookback_s // 60))}m", "limit": limit}
        if self.team:
            params["tags"] = json.dumps({"chaoslab.team": self.team})
        return spans_from_jaeger(self._get("/api/traces", params))

    def between(
        self, service: str, start_s: float, end_s: float, limit: int, min_duration_s: float | None = None
    ) -> list[list[dict]]:
        """The traces with a span of ``service`` that started between ``start_s`` and ``end_s`` (wall
        seconds; lasting at least ``min_duration_s``), the newest ``limit`` of them."""
        params = {"service": service, "start": int(start_s * 1e6), "end": int(end_s * 1e6), "limit": limit}
        if min_duration_s is not None:
            params["minDuration"] = f"{int(min_duration_s * 1000)}ms"
        if self.team:
            params["tags"] = json.dumps({"chaoslab.team": self.team})
        return spans_from_jaeger(self._get("/api/traces", params))

    def trace(self, trace_id: str) -> list[dict] | None:
        try:
            found = spans_from_jaeger(self._get(f"/api/traces/{trace_id}"))
        except urllib.error.HTTPError as exc:
            if exc.code == 404:
                return None
            raise
        return found[0] if found else None
