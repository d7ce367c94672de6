"""A break in a drill (``gameday pause``): the drill's clock stands still, so its scores and its deadlines
leave the break out, on a real journal store."""

from __future__ import annotations

import pytest

from chaoslab.chaos.drill import DrillJournal, Run, after_play, on_break, played
from chaoslab.chaos.journal import FileStore
from chaoslab.chaos.scenarios import get
from chaoslab.console.cohort import clock
from chaoslab.incident import score
from chaoslab.incident.record import IncidentLog
from chaoslab.incident.truth import Truth

T0 = 1_800_000_000.0


def test_the_clock_leaves_out_what_falls_on_a_break():
    breaks = [(T0 + 100, T0 + 400)]
    assert on_break(breaks, T0, T0 + 50) == 0 and on_break(breaks, T0, T0 + 250) == 150
    assert played(breaks, T0, T0 + 1000) == 700 and played(breaks, T0 + 200, T0 + 500) == 100
    assert after_play(breaks, T0, 50) == T0 + 50  # before the break: unmoved
    assert after_play(breaks, T0, 300) == T0 + 600  # across it: later by all of it
    assert after_play(breaks, T0 + 200, 60) == T0 + 460  # from inside it: counted from its end
    assert after_play([(T0 + 10, T0 + 20), (T0 + 30, T0 + 40)], T0, 25) == T0 + 45


def test_the_journal_folds_breaks_of_two_pauses_at_once_one_takes_and_a_break_ends_early(tmp_path):
    drills = DrillJournal(FileStore(tmp_path))
    drills.started("run-a", T0, T0 + 900, mystery=True, healthy=None)
    assert drills.paused("run-a", T0 + 100, T0 + 700)
    assert not drills.paused("run-a", T0 + 99, T0 + 1000)  # two instructors at once: the first one's break
    drills.resumed("run-a", at=T0 + 300)
    assert drills.paused("run-a", T0 + 500, T0 + 560)
    run = drills.get("run-a")
    assert run.breaks == [(T0 + 100, T0 + 300), (T0 + 500, T0 + 560)]
    assert run.on_break(T0 + 350) is None and run.on_break(T0 + 520) == (T0 + 500, T0 + 560)
    assert drills.paused("run-a", T0 + 600, T0 + 650)
    drills.resumed("run-a", at=T0 + 600)  # a pause whose drill could not be extended: the break never was
    assert drills.get("run-a").breaks[-1] == (T0 + 600, T0 + 600) and drills.get("run-a").on_break(T0 + 620) is None
    drills.ended("run-a", "stop")
    drills.paused("run-b", T0 + 600, T0 + 900)  # of no run: ignored
    assert drills.get("run-a").on_break(T0 + 520) is None  # a stopped drill is on no break


def test_a_break_is_left_out_of_every_score_time(tmp_path):
    log = IncidentLog(FileStore(tmp_path), "team")
    incident = log.declare("books off", "P2", "user-report", ts=T0 + 60)
    for kind, at, data in [
        ("acknowledged", 120, {}),
        ("root_cause_answer", 1000, {"service": "payment", "kind": "bad_deploy"}),
        ("verified", 1300, {}),
        ("resolved", 1310, {"verified": True}),
    ]:
        log.write(log.get(), kind, kind, data, ts=T0 + at)
    run = Run("run-test", T0, T0 + 2400, mystery=False, breaks=[(T0 + 300, T0 + 900)])
    truth = Truth(scenario=get("fp-drift"), run=run, started_at=T0, trigger_change=None)
    incident = log.get(incident.id)
    s = score.measure(incident, truth, score.first_answers(incident), now=T0 + 2000)
    assert (s.tta_s, s.ttrc_s, s.ttvf_s, s.paused_s) == (120, 400, 700, 600)
    assert (s.at(s.tta_s), s.at(s.ttvf_s)) == (T0 + 120, T0 + 1300)  # the review's moments: the wall clock's
    assert s.effective_min == pytest.approx(700 / 60 + s.penalty_min, abs=0.1)
    assert score.trend([(incident, s)])["drills"][0]["ttr_s"] == 710
    without = score.measure(incident, truth, score.first_answers(incident), now=T0 + 2000, breaks=[])
    assert without.ttvf_s == 1300  # the same incident with no break: the wall clock


def test_a_break_moves_the_escalation_and_the_status_updates_due(tmp_path):
    store = FileStore(tmp_path)
    drills = DrillJournal(store)
    drills.started("run-a", T0 - 10, T0 + 7200, mystery=False, healthy=None)
    drills.paused("run-a", T0 + 100, T0 + 1000)
    log = IncidentLog(store, "a")
    log.declare("down", "P1", "alerting", ts=T0)  # bound to run-a: P1 escalates at 5 min, an update every 15
    assert [e["kind"] for e in log.settle(now=T0 + 301)] == []  # on the wall clock it would have
    written = log.settle(now=T0 + 4000)
    escalated = [e["ts"] for e in written if e["kind"] == "escalated"]
    overdue = [e["ts"] for e in written if e["kind"] == "update_overdue"]
    assert escalated == [T0 + 300 + 900] and overdue[:2] == [T0 + 900 + 900, T0 + 900 + 1800]


def test_the_cohort_clock_says_the_room_is_on_a_break():
    record = {"name": "day", "started_at": T0, "ends_at": T0 + 3600, "break_until": T0 + 900}
    assert "on a break until" in clock({"red": record}, now=T0 + 300)
    assert "running for" in clock({"red": record}, now=T0 + 901)
