"""The service graph from span dicts shaped like the lab daemon's (chaoslab/local/tracestore.py)."""

from __future__ import annotations

import itertools

import pytest

from chaoslab.servicegraph import (
    CLIENT,
    DATABASE,
    DEGRADED,
    FAILED,
    HEALTHY,
    IDLE,
    MESSAGING,
    UNKNOWN,
    HealthyEdges,
    ServiceGraph,
    Thresholds,
    from_spans,
)

T0 = 1_800_000_000.0
_ids = itertools.count(1)


class Clock:
    """Wall time the test moves by hand (the graph's only notion of now)."""

    def __init__(self, now: float = T0):
        self.now = now

    def __call__(self) -> float:
        return self.now


def span(service, kind, start_s, ms, parent=None, trace="t1", status="unset", open_=False, **attributes):
    return {
        "trace_id": trace,
        "span_id": f"{next(_ids):016x}",
        "parent_id": parent,
        "service": service,
        "name": f"{kind} span",
        "kind": kind,
        "start_ns": int(start_s * 1e9),
        "end_ns": int((start_s + ms / 1000) * 1e9),
        "status": status,
        "status_message": "",
        "attributes": attributes,
        "open": open_,
    }


def call(caller, callee, start_s, ms, server_ms=None, trace="t1", status="unset", **attributes):
    """A client span of ``caller`` and the server span of ``callee`` that answers it."""
    client = span(caller, "client", start_s, ms, trace=trace, status=status, **attributes)
    server = span(callee, "server", start_s + 0.001, server_ms or ms * 0.8, parent=client["span_id"], trace=trace)
    return client, server


def test_a_client_span_and_its_server_child_make_one_edge_in_either_order():
    clock = Clock(T0 + 10)
    graph = ServiceGraph(clock=clock)
    first = call("service-a", "service-b", T0, 40, server_ms=30, **{"rpc.service": "chaoslab.v1.Inventory"})
    second = call("service-a", "service-b", T0 + 1, 60, server_ms=50, **{"rpc.service": "chaoslab.v1.Inventory"})
    graph.add([first[1]])  # the server's batch first
    graph.add([first[0]])
    graph.add([second[0]])  # the client's batch first
    graph.add([second[1]])

    edge = graph.snapshot(60).edge("service-a", "service-b")
    assert edge.requests == 2 and edge.errors == 0 and edge.unanswered == 0
    assert edge.p95_ms == pytest.approx(60, rel=0.05)
    assert edge.server_p95_ms == pytest.approx(50, rel=0.05)
    assert edge.rate == pytest.approx(2 / 60, abs=0.001)
    assert edge.health == HEALTHY


def test_an_unpaired_call_waits_for_its_partner_then_names_the_callee_itself():
    clock = Clock(T0 + 1)
    graph = ServiceGraph(clock=clock, pairing_wait_s=2.0)
    client = span("service-b", "client", T0, 5000, status="error", **{"rpc.service": "chaoslab.v1.Pricing"})
    graph.add([client])
    assert graph.snapshot(60).edge("service-b", "service-c") is None, "recorded before the pairing wait"

    clock.now += 2.5
    edge = graph.snapshot(60).edge("service-b", "service-c")
    assert edge.requests == 1 and edge.errors == 1
    assert edge.unanswered == 1, "a call to a traced service with no server span reached nobody"
    assert edge.health == FAILED


def test_http_calls_name_their_peer_and_database_calls_need_no_partner():
    graph = from_spans(
        [
            span("payment", "client", T0, 20, **{"peer.service": "gateway"}),
            span("service-a", "client", T0, 2, **{"db.system": "postgresql"}),
            span("worker", "client", T0, 1, **{"db.system": "redis"}),
            span("service-a", "client", T0, 1),
        ],
        now=T0 + 5,
    )
    snapshot = graph.snapshot(60)
    assert snapshot.edge("payment", "gateway").unanswered == 1
    postgres = snapshot.edge("service-a", "postgres")
    assert postgres.connection == DATABASE and postgres.unanswered == 0 and postgres.requests == 1
    assert snapshot.edge("worker", "redis").requests == 1
    assert snapshot.edge("service-a", UNKNOWN).requests == 1
    assert snapshot.node("postgres").kind == "database"


def test_a_root_server_span_is_called_from_outside_the_traces():
    graph = from_spans([span("service-a", "server", T0, 80)], now=T0 + 5)
    edge = graph.snapshot(60).edge(CLIENT, "service-a")
    assert edge.requests == 1 and edge.p95_ms == pytest.approx(80, rel=0.05)
    assert graph.snapshot(60).node(CLIENT).health == edge.health != IDLE  # coloured by the calls it makes


def test_a_consumer_pairs_with_its_producer_whichever_arrives_first():
    clock = Clock(T0 + 5)
    graph = ServiceGraph(clock=clock)
    for order in ("producer first", "consumer first"):
        producer = span("service-a", "producer", T0, 1, trace=order)
        consumer = span("worker", "consumer", T0 + 0.1, 30, parent=producer["span_id"], trace=order)
        graph.add([producer, consumer] if order == "producer first" else [consumer, producer])
    edge = graph.snapshot(60).edge("service-a", "worker")
    assert edge.connection == MESSAGING and edge.requests == 2
    assert graph.snapshot(60).edge(UNKNOWN, "worker") is None


def test_an_open_call_nobody_picked_up_is_unanswered_and_fails_the_edge():
    clock = Clock(T0 + 4)
    graph = ServiceGraph(clock=clock)
    stuck = span("service-c", "client", T0, 4000, open_=True, **{"peer.service": "service-a"})
    picked_up = span("service-a", "client", T0, 4000, open_=True, **{"rpc.service": "chaoslab.v1.Inventory"})
    handler = span("service-b", "server", T0 + 0.01, 3900, parent=picked_up["span_id"], open_=True)
    graph.add([stuck, picked_up, handler])

    snapshot = graph.snapshot(60)
    back = snapshot.edge("service-c", "service-a")
    assert back.in_flight == 1 and back.open_unanswered == 1 and back.requests == 0
    assert back.health == FAILED and back.oldest_open_ms == pytest.approx(4000, rel=0.01)
    forward = snapshot.edge("service-a", "service-b")
    assert forward.in_flight == 1 and forward.open_unanswered == 0
    assert snapshot.node("service-a").unanswered == 1

    refs = graph.traces(60, source="service-c", target="service-a")
    assert [r.open for r in refs["open"]] == [True]

    clock.now += 10  # nobody refreshed the copies: their process is gone
    assert graph.snapshot(60).edge("service-c", "service-a") is None


def test_the_final_span_replaces_its_open_copy():
    clock = Clock(T0 + 2)
    graph = ServiceGraph(clock=clock)
    copy = span("service-a", "server", T0, 2000, open_=True)
    graph.add([copy])
    assert graph.snapshot(60).edge(CLIENT, "service-a").in_flight == 1
    graph.add([{**copy, "open": False, "end_ns": copy["start_ns"] + int(2.5e9)}])
    edge = graph.snapshot(60).edge(CLIENT, "service-a")
    assert edge.in_flight == 0 and edge.requests == 1


def test_only_calls_within_the_window_count():
    graph = from_spans(
        [*call("service-a", "payment", T0, 10, trace="old"), *call("service-a", "payment", T0 + 250, 10)],
        now=T0 + 260,
    )
    assert graph.snapshot(60).edge("service-a", "payment").requests == 1
    assert graph.snapshot(300).edge("service-a", "payment").requests == 2


def test_state_is_bounded_by_the_retention():
    clock = Clock(T0)
    graph = ServiceGraph(clock=clock, retention_s=60)
    graph.add(call("service-a", "payment", T0, 10))
    clock.now += 200
    graph.add(call("service-a", "payment", T0 + 200, 10))
    assert sum(len(s) for s in graph._slices.values()) == 1  # the old slice is gone
    assert len(graph._answers) == 0 and len(graph._pending) == 0


@pytest.mark.parametrize(
    ("errors", "p95_ms", "verdict"),
    [(0, 50, HEALTHY), (1, 50, DEGRADED), (0, 300, DEGRADED), (0, 450, FAILED), (200, 50, FAILED)],
)
def test_health_follows_kiali_thresholds_and_the_objective(errors, p95_ms, verdict):
    spans = []
    for index in range(1000):
        failed = index < errors
        spans += call(
            "service-a", "payment", T0 + index * 0.01, p95_ms if index >= 900 else 10, status="error" if failed else ""
        )
    edge = from_spans(spans, now=T0 + 20).snapshot(60).edge("service-a", "payment")
    assert edge.health == verdict


def test_the_front_door_is_judged_against_the_checkout_objective():
    thresholds = Thresholds(front_door_p95_ms=400)
    spans = [span("service-a", "server", T0 + i * 0.01, 300) for i in range(20)]
    assert from_spans(spans, now=T0 + 5, thresholds=thresholds).snapshot(60).edge(CLIENT, "service-a").health == HEALTHY


def test_an_edge_missing_from_the_baseline_is_new_and_quiet_baseline_edges_stay_drawn():
    graph = from_spans(
        [*call("service-c", "service-a", T0, 900, **{"peer.service": "service-a"})],
        now=T0 + 5,
        baseline=HealthyEdges.from_topology(),
    )
    snapshot = graph.snapshot(60)
    assert snapshot.edge("service-c", "service-a").new
    quiet = snapshot.edge("service-b", "service-c")
    assert quiet is not None and not quiet.new and quiet.health == IDLE
    assert ("service-a", "worker") in HealthyEdges.from_topology()
    assert ("service-c", "service-a") not in HealthyEdges.from_topology()
    assert HealthyEdges.from_graph(snapshot).edges == {("service-c", "service-a")}


def test_traces_lists_failed_newest_first_and_slow_slowest_first():
    spans = []
    for index, ms in enumerate([10, 500, 30, 900]):
        spans += call("service-a", "payment", T0 + index, ms, trace=f"ok-{ms}")
    spans += call("service-a", "payment", T0 + 5, 20, trace="failed-early", status="error")
    spans += call("service-a", "payment", T0 + 6, 20, trace="failed-late", status="error")
    graph = from_spans(spans, now=T0 + 10)
    refs = graph.traces(60, source="service-a", target="payment")
    assert [r.trace_id for r in refs["failed"]] == ["failed-late", "failed-early"]
    assert [r.trace_id for r in refs["slow"]][:2] == ["ok-900", "ok-500"]
    assert {r.trace_id for r in graph.traces(60, node="payment")["failed"]} == {"failed-late", "failed-early"}
    assert graph.traces(60, node="gateway") == {"failed": [], "slow": [], "open": []}
    listed = {r.trace_id for refs in graph.traces(300).values() for r in refs}
    assert graph.exemplars() >= listed and "ok-10" not in graph.exemplars()  # what the trace store keeps


def test_every_grpc_service_of_the_topology_is_in_the_ring_proto():
    from chaoslab.servicegraph import rpc_components
    from chaoslab.services.rpc import ring_pb2

    served = {s.full_name for s in ring_pb2.DESCRIPTOR.services_by_name.values()}
    assert set(rpc_components()) == served


def test_a_call_that_waited_for_its_partner_lands_in_its_own_slice():
    clock = Clock(T0 + 1)
    graph = ServiceGraph(clock=clock, pairing_wait_s=2.0)
    graph.add([span("service-a", "client", T0, 100, **{"peer.service": "payment"})])  # never answered
    clock.now = T0 + 20
    graph.add(call("service-a", "payment", T0 + 19, 10))  # a newer slice exists before the first resolves
    edge = graph.snapshot(60).edge("service-a", "payment")
    assert edge.requests == 2 and edge.unanswered == 1
    assert [s.start for s in graph._slices[("service-a", "payment")]] == sorted(
        s.start for s in graph._slices[("service-a", "payment")]
    )


def test_an_edge_s_history_is_a_point_per_slice_with_its_rate_failed_share_and_p95():
    spans = [
        *call("service-a", "service-b", T0 + 1, 40, trace="a"),
        *call("service-a", "service-b", T0 + 2, 60, trace="b"),
        *call("service-a", "service-b", T0 + 11, 900, trace="c", status="error"),
    ]
    history = from_spans(spans, now=T0 + 14).history("service-a", "service-b", 60)
    assert [p["requests"] for p in history] == [2, 1]
    assert history[0]["error_share"] == 0.0 and history[1]["error_share"] == 1.0
    assert history[0]["p95_ms"] < 100 < history[1]["p95_ms"] and history[0]["at"] < history[1]["at"]
    assert from_spans(spans, now=T0 + 14).history("service-b", "service-c", 60) == []
