"""The instructor's scores on the console: one team's in its instructor panel, the cohort's ranked on
the platform console's /cohort/ page, over real journal stores (no cluster needed: a LocalSource per
team reads the same records a KubernetesSource reads from a namespace's ConfigMap)."""

from __future__ import annotations

import json
import time

import pytest
from drillkit import play

from chaoslab.chaos.journal import FileStore
from chaoslab.console.server import create_app
from chaoslab.incident.record import IncidentLog
from chaoslab.incident.shadow import SHADOW
from chaoslab.local.console import LocalSource
from chaoslab.local.statedir import StateDir
from chaoslab.local.tracestore import TraceStore
from chaoslab.servicegraph import from_spans
from chaoslab.settings import Console

T0 = time.time() - 600


def team_lab(
    root, answers: list[tuple[str, str]], ack_after_s: float | None, shadow: list[tuple[float, str, str]] = ()
) -> LocalSource:
    """A team whose latency-500ms drill started at T0 and whose incident has these root-cause answers
    (and the shadow on-call these: seconds after T0, service, kind)."""
    state = StateDir.at(root)
    store = FileStore(state.root)
    play(store, "latency-500ms", T0 - 1, 3600)  # its first fault goes in at T0
    log = IncidentLog(store, "ana")
    incident = log.declare("checkout is slow", "P2", "alerting", ts=T0 + 30)
    if ack_after_s is not None:
        log.write(incident, "acknowledged", "ack", ts=T0 + ack_after_s)
    for at, (service, kind) in enumerate(answers, start=1):
        data = {"service": service, "kind": kind, "correct": None}
        log.write(incident, "root_cause_answer", f"root cause: {kind} on {service}", data, ts=T0 + 100 * at)
    for after, service, kind in shadow:  # as the shadow on-call keeps them (chaoslab.diagnose.shadow)
        store.append(SHADOW, json.dumps({"incident": incident.id, "ts": T0 + after, "service": service, "kind": kind}))
    return LocalSource(state, TraceStore(), from_spans([], now=time.time()), list)


@pytest.fixture
def cohort(tmp_path):
    sources = {
        "red": team_lab(
            tmp_path / "red",
            [("payment", "errors"), ("service-b", "latency")],
            ack_after_s=60,
            shadow=[(90, "service-c", "latency"), (150, "service-b", "latency")],
        ),
        "blue": team_lab(
            tmp_path / "blue", [("service-b", "latency")], ack_after_s=40, shadow=[(120, "worker", "crash")]
        ),
        "green": LocalSource(StateDir.at(tmp_path / "green"), TraceStore(), from_spans([], now=time.time()), list),
    }
    return create_app(Console(teams="red,blue,green", token="s3cret"), sources).test_client()


def test_the_cohort_page_is_the_instructors_only(cohort):
    assert cohort.get("/cohort/").status_code == 401
    assert cohort.get("/cohort/board").status_code == 401
    assert cohort.get("/cohort/?token=wrong").status_code == 401
    entered = cohort.get("/cohort/?token=s3cret")
    assert entered.status_code == 302 and "token" not in entered.headers["Location"]
    assert "Path=/cohort/" in entered.headers["Set-Cookie"] and "HttpOnly" in entered.headers["Set-Cookie"]
    assert cohort.get("/cohort/board").status_code == 200, "the cookie opens the board the page fetches"


def test_the_board_ranks_teams_by_the_score_and_shows_every_teams_graph(cohort):
    html = cohort.get("/cohort/board", headers={"Authorization": "Bearer s3cret"}).get_data(as_text=True)
    rows = [html.index(f'<tr class="team" data-team="{team}"') for team in ("blue", "red", "green")]
    assert rows == sorted(rows), "blue named the cause first and right; red once wrong; green has no incident"
    blue = html[rows[0] : rows[1]]
    assert "root cause" in blue and "1m40s" in blue, "TTRC from the drill's start"
    red = html[rows[1] : rows[2]]
    assert "3m20s" in red and "1 wrong root cause" in red
    assert html.count('<section class="panel card"') == 3 and html.count('id="graph-svg"') == 3
    assert 'href="../teams/red/console/instructor"' in html


def test_each_card_races_the_team_against_its_shadow_on_call(cohort):
    html = cohort.get("/cohort/board", headers={"Authorization": "Bearer s3cret"}).get_data(as_text=True)
    cards = {team: html[html.index(f'<section class="panel card" data-team="{team}"') :] for team in ("red", "blue")}
    red = cards["red"][: cards["red"].index("</h2>") + 200]
    assert "shadow on-call: named the root cause at 2m30s, the team after it at 3m20s" in red
    blue = cards["blue"][: cards["blue"].index("</h2>") + 200]
    assert "shadow on-call: 1 answer, none right yet" in blue
    green = html[html.index('<section class="panel card" data-team="green"') :]
    assert "shadow on-call" not in green[: green.index("</h2>") + 200], "no incident: no race to show"


def test_a_teams_instructor_panel_shows_its_graded_score(cohort, tmp_path):
    from chaoslab.console.business import MetricsHistory
    from chaoslab.console.layout import Layout
    from chaoslab.console.panel import Context
    from chaoslab.console.panels.instructor import render as instructor_panel

    source = team_lab(tmp_path / "solo", [("service-b", "latency")], ack_after_s=45)
    html = str(instructor_panel(Context(source, 60, True, MetricsHistory(), Layout())))
    assert "stage <b>root cause</b>" in html and "1m40s" in html and "0m45s" in html
    assert "Not graded" not in html
    empty = LocalSource(StateDir.at(tmp_path / "none"), TraceStore(), from_spans([], now=time.time()), list)
    assert "No incident yet" in str(instructor_panel(Context(empty, 60, True, MetricsHistory(), Layout())))
