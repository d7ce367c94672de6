"""Triage answers, impact figures and scores: parsing, tolerances, penalties and the ranking."""

from __future__ import annotations

import pytest

from chaoslab.chaos.drill import Run
from chaoslab.chaos.journal import FileStore
from chaoslab.chaos.scenarios import get
from chaoslab.errors import BadInput
from chaoslab.incident import impact, score, triage
from chaoslab.incident.record import IncidentLog
from chaoslab.incident.truth import Truth

T0 = 1_800_000_000.0


def test_times_are_read_in_every_form_a_trainee_types():
    now = T0
    assert triage.parse_time("5m ago", now) == now - 300
    assert triage.parse_time("90s ago", now) == now - 90
    assert triage.parse_time(str(int(now - 42)), now) == now - 42
    from datetime import datetime

    clock = datetime.fromtimestamp(now - 125).strftime("%H:%M:%S")
    assert triage.parse_time(clock, now) == pytest.approx(now - 125, abs=1)
    at = datetime.fromtimestamp(now - 3600).isoformat(timespec="seconds")
    assert triage.parse_time(at, now) == pytest.approx(now - 3600, abs=1)
    for bad in ("yesterday", "25:00", "soon ago"):
        with pytest.raises(BadInput, match="when:"):
            triage.parse_time(bad, now)


@pytest.mark.parametrize(
    "question,raw,value",
    [
        ("scope", "40%", 0.4),
        ("scope", "all", "all"),
        ("what", "CheckoutLatencyFastBurn", "CheckoutLatencyFastBurn"),
        ("owner", "Pricing", "pricing"),
        ("change", "none", "none"),
    ],
)
def test_answers_are_parsed(question, raw, value):
    assert triage.parse(question, raw, change_ids=set()).value == value


@pytest.mark.parametrize(
    "question,raw,message",
    [
        ("scope", "140", "percentage from 0 to 100"),
        ("owner", "the-db-folks", "not a team; the teams are"),
        ("change", "chg-nope", "no change 'chg-nope' in the feed"),
        ("what", "rm -rf", "not an alert name"),
        ("what", "", "empty answer"),
    ],
)
def test_malformed_answers_say_what_a_good_one_looks_like(question, raw, message):
    with pytest.raises(BadInput, match=message):
        triage.parse(question, raw, change_ids={"chg-aaaaaa"})


def test_grading_uses_the_documented_tolerances():
    key = {"what": {"LedgerDrift"}, "when": T0, "scope": 0.42, "change": "chg-abc123", "owner": {"payments"}}

    def graded(question, value):
        return triage.grade(triage.Answer(question, str(value), value), key).correct

    assert graded("when", T0 + 119) and not graded("when", T0 - 121)
    assert graded("scope", 0.5) and not graded("scope", 0.6) and graded("scope", "partial")
    assert graded("what", "ledgerdrift") and not graded("what", "CPUHigh")
    assert graded("change", "chg-abc123") and not graded("change", "none")
    answer = triage.grade(triage.Answer("owner", "pricing", "pricing"), key)
    assert answer.correct is False and "payments" not in answer.note  # feedback never tells the truth
    unknown = triage.grade(triage.Answer("scope", "40", 0.4), {"scope_note": "recorded, not graded (why)"})
    assert unknown.correct is None and unknown.note == "recorded, not graded (why)"


@pytest.mark.parametrize(
    "measured,right,wrong",
    [
        (1.0, ("all", 0.9), ("partial", "none", 0.85)),
        (0.93, ("all", "partial", 0.85), ("none", 0.5)),  # "partial" reaches 90 %: 3 points away
        (0.15, ("partial", "none", 0.05), ("all", 0.3)),  # "none" reaches 10 %: 5 points away
        (0.0, ("none", 0.1), ("partial", "all", 0.2)),
    ],
)
def test_scope_grades_the_word_and_the_number_against_one_measured_share(measured, right, wrong):
    """Before, the word was graded against the drill's declared scope and the number against the checkouts'
    share: "all" for a stalled worker was right and "100" wrong. Now both read the same figure."""
    key = {"scope": measured}
    for given in right:
        assert triage.grade(triage.Answer("scope", str(given), given), key).correct, (measured, given)
    for given in wrong:
        assert not triage.grade(triage.Answer("scope", str(given), given), key).correct, (measured, given)


def counters(ts, total, failed, fast, paid=0.0, amount=0.0, drift=0.0) -> dict:
    return {
        "ts": ts,
        "total": total,
        "failed": failed,
        "buckets": {"0.25": fast, "1.0": fast, "5.0": total, "+Inf": total},
        "paid": paid,
        "paid_amount": amount,
        "ledger_drift": drift,
    }


def test_impact_is_the_difference_of_two_snapshots_with_resets_counted_from_zero():
    before = counters(T0, 100, 0, 100, paid=100, amount=5000, drift=0.0)
    after = counters(T0 + 60, 300, 150, 120, paid=150, amount=7500, drift=0.37)
    window = impact.window(before, after)
    assert (window["checkouts"], window["failed"], window["slow"]) == (200, 150, 180)
    assert window["affected"] == 180 and window["affected_share"] == 0.9
    assert window["average_order"] == 50.0 and window["revenue_at_risk"] == 7500.0
    assert window["ledger_drift"] == 0.37 and 500 <= window["p95_ms"] <= 5000
    restarted = impact.window(after, counters(T0 + 90, 10, 10, 0))
    assert restarted["checkouts"] == 10 and restarted["failed"] == 10


def truth_of(scenario_id: str, ends_at: float = T0 + 900, **kw) -> Truth:
    run = Run("run-test", T0, ends_at, mystery=False)
    return Truth(scenario=get(scenario_id), run=run, started_at=T0, trigger_change=None, **kw)


def drill(tmp_path, moves):
    log = IncidentLog(FileStore(tmp_path), "team")
    incident = log.declare("books off", "P2", "user-report", ts=T0 + 60)
    for kind, at, data in moves:
        log.write(log.get(), kind, kind, data, ts=T0 + at)
    return log.get(incident.id)


def test_a_verified_fix_scores_its_time_plus_penalties(tmp_path):
    incident = drill(
        tmp_path,
        [
            ("acknowledged", 120, {}),
            ("triage_answer", 150, {"question": "what", "value": "none", "correct": True}),
            ("triage_answer", 160, {"question": "when", "value": T0, "correct": True}),
            ("root_cause_answer", 300, {"service": "payment", "kind": "latency"}),
            ("root_cause_answer", 360, {"service": "payment", "kind": "bad_deploy"}),
            ("verified", 600, {}),
            ("resolved", 610, {"verified": True}),
        ],
    )
    truth = truth_of("fp-drift", hints=[{"ts": T0 + 200, "hint": 1}])
    s = score.measure(incident, truth, score.first_answers(incident), now=T0 + 700)
    assert (s.ttd_s, s.tta_s, s.ttrc_s, s.ttm_s, s.ttvf_s) == (120, 120, 360, 600, 600)
    assert (s.wrong_root_causes, s.hints, s.triage_right, s.stage) == (1, 1, 2, "verified fix")
    assert s.penalty_min == 2 * 1 + 3 * 1 + 1 * 3 + 0 and s.effective_min == 10 + 8
    assert s.root_cause_bar_met is True


def test_the_ranking_puts_verified_fixes_first_and_normalises_per_scenario(tmp_path):
    def scored(at_fix, at_cause, sub):
        moves = [("root_cause_answer", at_cause, {"service": "payment", "kind": "bad_deploy"})]
        if at_fix:
            moves.append(("verified", at_fix, {}))
        incident = drill(tmp_path / sub, moves)
        return score.measure(incident, truth_of("fp-drift", ends_at=T0 + 3600), {}, now=T0 + 5000)

    slow_fix, fast_cause_no_fix, fast_fix = scored(1800, 600, "a"), scored(None, 60, "b"), scored(600, 300, "c")
    board = score.ranked([fast_cause_no_fix, slow_fix, fast_fix])
    assert [s.ttvf_s for s in board] == [600, 1800, None]
    assert board[0].normalised < 1 < board[1].normalised  # against the median of the two verified fixes
    assert board[2].normalised == 1.0  # alone at its stage


def test_without_a_readable_answer_key_nothing_is_graded_and_times_count_from_the_declaration(tmp_path):
    incident = drill(
        tmp_path, [("acknowledged", 120, {}), ("root_cause_answer", 300, {"service": "payment", "kind": "bad_deploy"})]
    )
    s = score.measure(incident, None, score.first_answers(incident), now=T0 + 400)
    assert not s.graded and s.tta_s == 60 and s.ttrc_s is None and s.root_cause_bar_met is None


def test_root_cause_answers_accept_any_real_fault_and_never_a_red_herring():
    multi, herring = truth_of("multi-component"), truth_of("red-herring")
    assert multi.is_root_cause("payment", "db_slow") and multi.is_root_cause("service-a", "redis_outage")
    assert herring.is_root_cause("payment", "db_slow") and not herring.is_root_cause("worker", "cpu_burn")
    assert truth_of("deadlock").owner == "pricing"


def test_an_order_paid_a_moment_ago_is_in_flight_not_an_unshipped_customer():
    """Before, one order paid a second before the read counted as "not shipped" and, at 3 %, outweighed a
    drill's mischarged customers in the status update."""
    before = counters(T0, 0, 0, 0, paid=0) | {"fulfilled": 0.0, "charges": 0.0, "mischarged": 0.0}
    healthy = counters(T0 + 60, 33, 0, 33, paid=33) | {"fulfilled": 32.0, "charges": 33.0, "mischarged": 1.0}
    window = impact.window(before, healthy)
    assert window["unfulfilled"] == 0 and window["journey"] == "payment"
    stalled = counters(T0 + 60, 33, 0, 33, paid=33) | {"fulfilled": 3.0, "charges": 33.0, "mischarged": 0.0}
    window = impact.window(before, stalled)
    assert window["unfulfilled"] == 27 and window["journey"] == "fulfilment"  # 30 not shipped, 3 in flight
