"""The team's on-call rota: set from YAML on the board, it names who each unacknowledged page reaches,
level by level, on the record, the watch and the webhook; bad files are one line and exit 2."""

from __future__ import annotations

import json
import time

import pytest
from click.testing import CliRunner

from chaoslab.chaos.journal import FileStore
from chaoslab.cli import cli
from chaoslab.incident import rota
from chaoslab.incident.alerting import AlertEvent, on_alert
from chaoslab.incident.notify import Follower
from chaoslab.incident.record import IncidentLog
from chaoslab.incident.webhook import forward

ROTA = """
primary: Ana
secondary: Bea
commanders: [Cy, Dee]
"""


@pytest.fixture
def run(tmp_path):
    def invoke(*args: str, stdin: str | None = None):
        return CliRunner().invoke(cli, ["--state-dir", str(tmp_path), *args], input=stdin)

    return invoke


def page(store, minutes_ago: float, tier="P1"):
    event = AlertEvent("CheckoutAvailabilityFastBurn", tier, "fired", time.time() - minutes_ago * 60, owner="orders")
    return on_alert(store, event)


def test_an_unacknowledged_p1_pages_the_secondary_then_the_commander_on_the_rota_by_name(run, tmp_path):
    assert run("oncall", "set", "-", stdin=ROTA).exit_code == 0
    store = FileStore(tmp_path)
    follower = Follower(store)
    incident = page(store, minutes_ago=11)  # past both levels: 5 and 10 minutes for a P1
    notices = follower.poll()
    assert "paging Ana (primary)" in notices[0].line()
    escalations = [n for n in notices if n.sort == "escalation"]
    assert [n.paged for n in escalations] == ["Bea", "Cy"]  # INC-1 is Cy's turn on the rota
    assert "level 2, paged Cy (incident commander on the rota)" in escalations[1].entry["text"]
    assert all(n.rings for n in escalations)
    shown = run("incident", "show", incident.id).output
    assert "level 1, paged Bea (secondary on-call)" in shown


def test_an_acknowledgment_before_a_level_stops_it(run, tmp_path):
    run("oncall", "set", "-", stdin=ROTA)
    store = FileStore(tmp_path)
    incident = page(store, minutes_ago=7)
    IncidentLog(store, "Ana").write(incident, "acknowledged", "ack", {"commander": "Ana"}, ts=time.time() - 60)
    IncidentLog(store).settle()
    levels = [e["data"].get("paged") for e in IncidentLog(store).get(incident.id).of_kind("escalated")]
    assert levels == ["Bea"]  # level 1 came due at 5 min; the ack at 6 min stopped level 2


def test_without_commanders_the_secondary_is_the_only_level():
    assert [step.notify for _, _, step in rota.parse("primary: Ana\nsecondary: Bea").due(300)] == ["secondary"]


def test_the_commander_rota_takes_turns_and_custom_levels_keep_their_delays(tmp_path):
    found = rota.parse(ROTA + "escalation:\n  - {notify: commanders, after: 90s}\n")
    assert [found.commander_for(f"INC-{n}") for n in (1, 2, 3)] == ["Cy", "Dee", "Cy"]
    assert [(n, after) for n, after, _ in found.due(300)] == [(1, 90.0)]
    store = FileStore(tmp_path)
    rota.save(store, found)
    assert rota.load(store) == found  # the board keeps it as JSON, read back by the same parser


def test_the_webhook_names_who_was_paged(run, tmp_path):
    run("oncall", "set", "-", stdin=ROTA)
    store = FileStore(tmp_path)
    follower = Follower(store)
    page(store, minutes_ago=6)
    bodies = []
    forward(follower, bodies.append)
    assert bodies[0]["commonAnnotations"]["paged"] == "Ana, Bea"


def test_show_prints_the_levels_or_the_format_and_clear_removes_it(run):
    empty = run("oncall", "show")
    assert empty.exit_code == 0 and "no on-call rota" in empty.output and "primary: Ana" in empty.output
    run("oncall", "set", "-", stdin=ROTA)
    shown = run("oncall", "show").output
    assert "primary Ana" in shown and "P1 unacknowledged: level 1 after 5 min: secondary" in shown, shown
    assert json.loads(run("oncall", "show", "--json").output)["commanders"] == ["Cy", "Dee"]
    run("oncall", "clear")
    assert json.loads(run("oncall", "show", "--json").output) is None


@pytest.mark.parametrize(
    ("text", "said"),
    [
        ("primary: [", "not valid YAML"),
        ("- Ana", "expected a mapping"),
        ("secondary: Bea", "primary must be a person's name"),
        ("primary: Ana\nsecndary: Bea", "unknown key 'secndary'"),
        ("primary: Ana\ncommanders: 3", "commanders must be a list of names"),
        ("primary: Ana\nescalation: [{notify: boss}]", "escalation level 1 needs notify"),
        ("primary: Ana\nsecondary: Bea\nescalation: [{notify: commanders}]", "no commanders are named"),
        ("primary: Ana\nsecondary: Bea\nescalation: [{notify: secondary, after: soon}]", "is not a duration"),
        ("primary: Ana\nsecondary: Bea\nescalation: [{notify: secondary, after: 0s}]", "between 1 s and 24 h"),
    ],
)
def test_a_bad_on_call_file_is_one_line_exit_2_and_changes_nothing(run, text, said):
    run("oncall", "set", "-", stdin=ROTA)
    result = run("oncall", "set", "-", stdin=text)
    assert result.exit_code == 2 and said in result.output, result.output
    assert len(result.output.strip().splitlines()) == 1
    assert "primary Ana" in run("oncall", "show").output  # the rota in force is untouched
