"""Pages on Kubernetes: the team's alerts as Alertmanager lists them (GET /api/v2/alerts) folded into
its incident record by the team's pager, on a real journal store. tests/kubernetes/test_paging.py runs
the pager against a real Alertmanager; the end-to-end stage pages a real cluster's
(tests/e2e/test_e2e_lab.py)."""

from __future__ import annotations

import socket
from datetime import UTC, datetime

import pytest

from chaoslab.chaos.journal import FileStore
from chaoslab.incident import pager
from chaoslab.incident.record import IncidentLog, NoIncident
from chaoslab.kubernetes.alertmanager import Alertmanager, AlertmanagerUnreachable

NOW = 1_800_000_000.0


def alert(name: str, severity: str, team: str = "red", fired_s_ago: float = 45.0, **labels) -> dict:
    """One alert as Alertmanager's API lists it (``startsAt``: when Prometheus turned it firing)."""
    fired = datetime.fromtimestamp(NOW - fired_s_ago, UTC).isoformat().replace("+00:00", "Z")
    return {
        "labels": {"alertname": name, "severity": severity, "owner": "orders", "team": team, **labels},
        "annotations": {"summary": f"{name} summary", "runbook_url": "docs/runbooks/checkout-latency.md"},
        "startsAt": fired,
        "status": {"state": "active", "silencedBy": [], "inhibitedBy": []},
    }


@pytest.fixture
def store(tmp_path):
    return FileStore(tmp_path)


def test_a_page_opens_the_incident_once_dated_when_prometheus_fired_it(store):
    latency = alert("CheckoutLatencyFastBurn", "P2")
    events = pager.fold(store, "red", [latency], now=NOW)
    assert [(e.name, e.state, e.ts) for e in events] == [("CheckoutLatencyFastBurn", "fired", NOW - 45)]
    incident = IncidentLog(store).get()
    assert (incident.severity, incident.detected_by, incident.declared_at) == ("P2", "alerting", NOW - 45)
    assert incident.title == "Checkouts are slow" and "CheckoutLatencyFastBurn" in incident.firing
    assert pager.fold(store, "red", [latency], now=NOW + 10) == [], "the pager's next look pages nothing new"
    assert len(IncidentLog(store).get().of_kind("alert_fired")) == 1


def test_when_the_page_resolves_the_incident_is_mitigated(store):
    pager.fold(store, "red", [alert("CheckoutLatencyFastBurn", "P2")], now=NOW)
    (resolved,) = pager.fold(store, "red", [], now=NOW + 120)
    assert (resolved.name, resolved.state, resolved.tier) == ("CheckoutLatencyFastBurn", "resolved", "P2")
    incident = IncidentLog(store).get()
    assert incident.mitigated_at == NOW + 120 and not incident.firing


def test_another_teams_alerts_and_a_lone_ticket_page_nobody(store):
    events = pager.fold(
        store,
        "red",
        [alert("CheckoutLatencyFastBurn", "P2", team="blue"), alert("HighCPU", "P4", service="worker")],
        now=NOW,
    )
    assert [(e.name, e.tier) for e in events] == [("HighCPU", "P4")]
    with pytest.raises(NoIncident):
        IncidentLog(store).get()
    assert pager.fold(store, "red", [alert("HighCPU", "P4", service="worker")], now=NOW + 60) == []


def test_a_rule_that_is_not_the_labs_is_awareness_only(store):
    (event,) = pager.fold(store, "red", [alert("Watchdog", "none")], now=NOW)
    assert event.tier == "P4" and not event.pages


def test_a_start_in_the_future_or_unreadable_is_dated_now(store):
    future = alert("CheckoutLatencyFastBurn", "P2", fired_s_ago=-30)
    assert [e.ts for e in pager.fold(store, "red", [future], now=NOW)] == [NOW]
    garbled = alert("QueueBacklog", "P2") | {"startsAt": "yesterday"}
    assert [e.ts for e in pager.fold(store, "red", [future, garbled], now=NOW + 1)] == [NOW + 1]


def test_an_unreachable_alertmanager_says_where_it_looked():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # bound, never listening: refused
        with pytest.raises(
            AlertmanagerUnreachable, match=rf"Alertmanager at http://127.0.0.1:{port}/api/v2/alerts\?filter="
        ):
            Alertmanager(f"http://127.0.0.1:{port}").alerts("red")
