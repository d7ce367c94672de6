"""The console's cluster side: one team's graph and traces from Jaeger's query API, served by the
platform's console process (chaoslab/console/server.py) with the same pages as the lab daemon's."""

from __future__ import annotations

import json

import pytest
from flask import Flask, abort, jsonify, request

from chaoslab.console.server import create_app
from chaoslab.kubernetes.console import KubernetesSource
from chaoslab.kubernetes.jaeger import spans_from_jaeger
from chaoslab.kubernetes.tracefeed import REFRESH_S, RETENTION_S, STEP_S
from chaoslab.settings import Console
from chaoslab.wsgi import HttpServer

NOW_US = 1_800_000_000_000_000


def jaeger_trace(trace_id: str, team: str, spans: list[tuple]) -> dict:
    """A trace as Jaeger's query API returns it: (span id, parent, service, kind, start µs, µs, error)."""
    services = sorted({s[2] for s in spans})
    processes = {
        f"p{i}": {"serviceName": name, "tags": [{"key": "chaoslab.team", "type": "string", "value": team}]}
        for i, name in enumerate(services)
    }
    pid = {p["serviceName"]: key for key, p in processes.items()}
    return {
        "traceID": trace_id,
        "processes": processes,
        "spans": [
            {
                "traceID": trace_id,
                "spanID": span_id,
                "operationName": f"{kind} op",
                "references": [{"refType": "CHILD_OF", "traceID": trace_id, "spanID": parent}] if parent else [],
                "startTime": start,
                "duration": took,
                "processID": pid[service],
                "tags": [{"key": "span.kind", "type": "string", "value": kind}]
                + ([{"key": "otel.status_code", "type": "string", "value": "ERROR"}] if error else [])
                + ([{"key": "peer.service", "type": "string", "value": "payment"}] if kind == "client" else []),
            }
            for span_id, parent, service, kind, start, took, error in spans
        ],
    }


def checkout(trace_id: str, start: int, error: bool = False) -> dict:
    return jaeger_trace(
        trace_id,
        "red",
        [
            ("a1", None, "service-a", "server", start, 90_000, error),
            ("a2", "a1", "service-a", "client", start + 1_000, 60_000, error),
            ("p1", "a2", "payment", "server", start + 2_000, 50_000, error),
        ],
    )


class FakeJaeger:
    """Stands in for Jaeger's query API, which cannot run here (no container images): it answers
    /api/traces and /api/traces/<id> from a list of traces in Jaeger's JSON shape, and records the
    team tag it was asked for."""

    def __init__(self, traces: list[dict]):
        self.traces = traces
        self.asked_tags: list[str] = []
        self.answered: list[int] = []  # how many traces each search returned
        app = Flask("fake-jaeger")

        @app.get("/api/traces")
        def search():
            """As Jaeger's in-memory store searches: a trace matches when one of its spans is of the
            service, started within start..end (µs) and lasted minDuration; the newest limit of them."""
            self.asked_tags.append(request.args.get("tags", ""))
            service, args = request.args["service"], request.args
            start, end = args.get("start", 0, type=int), args.get("end", 2**63, type=int)
            shortest = int(args.get("minDuration", "0ms").removesuffix("ms")) * 1000

            def matches(trace: dict) -> bool:
                return any(
                    trace["processes"][s["processID"]]["serviceName"] == service
                    and start <= s["startTime"] <= end
                    and s["duration"] >= shortest
                    for s in trace["spans"]
                )

            found = sorted((t for t in self.traces if matches(t)), key=lambda t: t["spans"][0]["startTime"])
            found = found[-args.get("limit", 100, type=int) :]
            self.answered.append(len(found))
            return jsonify(data=found)

        @app.get("/api/traces/<trace_id>")
        def one(trace_id):
            found = [t for t in self.traces if t["traceID"] == trace_id]
            return jsonify(data=found) if found else abort(404)

        self.server = HttpServer(app, "127.0.0.1", 0, 4, "fake-jaeger").start()


@pytest.fixture
def jaeger():
    fake = FakeJaeger([checkout("0" * 31 + "1", NOW_US - 5_000_000), checkout("0" * 31 + "2", NOW_US, True)])
    yield fake
    fake.server.stop()


def test_jaeger_spans_become_the_daemons_span_dicts():
    (spans,) = spans_from_jaeger({"data": [checkout("ab" * 16, NOW_US, error=True)]})
    client = next(s for s in spans if s["kind"] == "client")
    assert client["service"] == "service-a" and client["parent_id"] == "a1".zfill(16)
    assert client["status"] == "error" and client["attributes"] == {"peer.service": "payment"}
    assert client["end_ns"] - client["start_ns"] == 60_000_000 and client["team"] == "red"


def test_the_platform_console_serves_a_teams_graph_and_traces_from_jaeger(jaeger):
    source = KubernetesSource("red", jaeger.server.url, "http://127.0.0.1:9", clock=lambda: NOW_US / 1e6 + 10)
    app = create_app(Console(teams="red", token="s3cret"), {"red": source}).test_client()

    assert b"teams/red/console/" in app.get("/").data
    graph = app.get("/teams/red/console/api/graph?window=60").get_json()
    edge = next(e for e in graph["edges"] if (e["source"], e["target"]) == ("service-a", "payment"))
    assert edge["requests"] == 2 and edge["errors"] == 1
    assert json.loads(jaeger.asked_tags[0]) == {"chaoslab.team": "red"}

    listed = app.get("/teams/red/console/traces?source=service-a&target=payment&window=60").get_data(as_text=True)
    assert "0" * 31 + "2" in listed and "failed" in listed
    waterfall = app.get("/teams/red/console/trace/" + "0" * 31 + "2").get_data(as_text=True)
    assert "payment" in waterfall and 'class="span error"' in waterfall
    assert app.get("/teams/red/console/trace/" + "f" * 32).get_data(as_text=True).count("no longer kept") == 1
    assert app.get("/teams/red/console/panels?view=instructor").status_code == 401
    entered = app.get("/teams/red/console/instructor?token=s3cret")
    assert entered.status_code == 302 and "Path=/teams/red/console/" in entered.headers["Set-Cookie"], (
        "the instructor's cookie is scoped to the team's pages, where the browser will send it back"
    )


def test_the_teams_graph_counts_every_call_once_as_it_reaches_jaeger(jaeger):
    """The graph is fed from Jaeger refresh by refresh: no call lost to a search's limit (a search of
    the minute used to return its newest 300 traces, a third of the default load's), none counted
    twice when several searches return its trace, and a long call read when it reaches Jaeger long
    after it started."""
    now = [NOW_US / 1e6 + 10]
    source = KubernetesSource("red", jaeger.server.url, "http://127.0.0.1:9", clock=lambda: now[0])

    def payment_calls() -> int:
        edges = source.graph(60).to_dict()["edges"]
        return next(e["requests"] for e in edges if (e["source"], e["target"]) == ("service-a", "payment"))

    assert payment_calls() == 2
    jaeger.traces += [checkout(f"{n:032x}", NOW_US + 11_000_000 + n * 5_000) for n in range(3, 503)]
    assert payment_calls() == 2, "the next refresh comes REFRESH_S after the last"
    now[0] += REFRESH_S + 1
    assert payment_calls() == 502, "each of the 500 new calls, none lost to the search's limit"

    started = int((now[0] - 40) * 1e6)  # 40 s ago, for 35 s: before LATE_S, reaching Jaeger only now
    jaeger.traces.append(
        jaeger_trace(
            "f" * 32,
            "red",
            [
                ("a1", None, "service-a", "server", started, 35_000_000, False),
                ("a2", "a1", "service-a", "client", started + 1_000, 34_000_000, False),
                ("p1", "a2", "payment", "server", started + 2_000, 33_000_000, False),
            ],
        )
    )
    now[0] += REFRESH_S + 1
    assert payment_calls() == 503, "the long call counted once; the 500 searched again were not counted again"


def test_the_platform_console_replays_each_teams_recorded_drills_under_its_own_path(jaeger, tmp_path):
    from chaoslab.console.bundle import Writer, seal

    source = KubernetesSource("red", jaeger.server.url, "http://127.0.0.1:9", clock=lambda: NOW_US / 1e6 + 10)
    settings = Console(teams="red", token="s3cret", recordings=str(tmp_path))
    writer = Writer(tmp_path / "red" / "20300101-000000-red", {"where": "red", "team": "red", "started_at": 1.9e9})
    writer.frame(1.9e9 + 2, {"graph": source.graph(60).to_dict(), "processes": {"service-a": "ready"}})
    writer.close(1.9e9 + 4)
    seal(writer.folder)
    app = create_app(settings, {"red": source}).test_client()

    assert b'href="../replay/"' in app.get("/teams/red/console/").data, "the live page links the team's recordings"
    listing = app.get("/teams/red/replay/").get_data(as_text=True)
    assert 'href="20300101-000000-red/console/"' in listing and 'href="/teams/red/console/static/' in listing
    page = app.get("/teams/red/replay/20300101-000000-red/console/").get_data(as_text=True)
    assert 'id="replay"' in page and "replay: red" in page
    replay = "/teams/red/replay/20300101-000000-red/console/"
    assert app.get(replay + "api/graph?window=60").get_json()["edges"] == [], "at its start, before the first frame"
    assert app.post(replay + "replay", json={"action": "seek", "t": 1.9e9 + 3}).status_code == 200
    replayed = app.get(replay + "api/graph?window=60").get_json()
    assert replayed["edges"] == source.graph(60).to_dict()["edges"]
    assert app.get(replay + "panels?view=instructor").status_code == 401
    assert app.get("/teams/blue/replay/").status_code == 404, "no team but the console's own"
    assert app.get("/teams/red/replay/../../etc/console/").status_code == 404


def test_the_first_view_reads_the_whole_retention_a_step_at_a_time(jaeger):
    """The first look at a team's graph reads the five minutes Jaeger holds, every call of them, and no
    search answers more than a step's traces: one search per service over the five minutes held all of
    them at once, and the platform console was killed at its memory limit on the cohort page's first
    view while two teams ran the default load."""
    now = NOW_US / 1e6 + 10
    every_s = 0.3
    calls = int((RETENTION_S - 10) / every_s)
    jaeger.traces[:] = [
        checkout(f"{n:032x}", NOW_US - int((RETENTION_S - 20) * 1e6) + int(n * every_s * 1e6)) for n in range(calls)
    ]
    source = KubernetesSource("red", jaeger.server.url, "http://127.0.0.1:9", clock=lambda: now)
    edges = source.graph(RETENTION_S).to_dict()["edges"]
    assert next(e["requests"] for e in edges if (e["source"], e["target"]) == ("service-a", "payment")) == calls
    assert 0 < max(jaeger.answered) <= STEP_S / every_s + 1, max(jaeger.answered)
