"""Grades that tell the truth as a room plays drills: an incident is bound to its drill run once, a
mystery stays secret past its time limit, late answers earn nothing, the clock is never a fix, a
verify's own traffic pages nobody, and triage accepts what the drill really set off.

The journals are written as the controller writes them (tests/drillkit.py); everything read back goes
through the incident desk on a local lab's state directory, as the CLI does (no lab needs to run for
what is read here)."""

from __future__ import annotations

import time

import pytest
from drillkit import play, stop

from chaoslab.errors import Refused
from chaoslab.incident import silence
from chaoslab.incident.alerting import AlertEvent, on_alert
from chaoslab.incident.desk import Desk
from chaoslab.incident.mystery import hidden, refuse_new_drill_while_secret, reveal
from chaoslab.incident.record import IncidentLog
from chaoslab.local.backend import LocalBackend


@pytest.fixture
def desk(tmp_path):
    return Desk(LocalBackend(tmp_path, "trainee"))


def page(desk, alert="CheckoutAvailabilityFastBurn", tier="P1", owner="orders", ts=None):
    event = AlertEvent(alert, tier, "fired", time.time() if ts is None else ts, owner=owner, summary=f"{alert} fires")
    return on_alert(desk.store, event)


def test_a_past_incident_keeps_its_grade_when_the_next_drill_starts_a_moment_after_its_resolution(desk):
    """Before, the answer key was the drill that overlapped the incident with a minute's slack: the next drill,
    started 30 s after INC-1 was resolved, became INC-1's answer key and turned its right answer wrong."""
    now = time.time()
    first = play(desk.store, "payment-failure", now - 600, 900)
    inc1 = page(desk, "PaymentSuccessFastBurn", owner="payments", ts=now - 500)
    assert inc1.drill == first
    desk.rootcause(inc1.id, "payment", "error")
    desk.resolve(inc1.id, 60, unverified=True, say=print, progress=lambda *a: None)
    stop(desk.store, first, "payment-failure")
    before = desk.score_of(desk.get(inc1.id)).to_json()
    assert before["scenario"] == "payment-failure" and before["ttrc_s"] is not None

    second = play(desk.store, "process-crash", time.time() - 1, 600)
    inc2 = page(desk, "TargetDown", tier="P2", owner="inventory")
    assert inc2.id != inc1.id and inc2.drill == second
    after = desk.score_of(desk.get(inc1.id)).to_json()
    assert after == before, "a later drill re-graded a past incident"
    assert desk.review(desk.get(inc1.id), reveal=False)["root_cause"]["team"]["correct"] is True


def test_an_incident_declared_with_no_drill_running_is_graded_as_no_drill(desk):
    now = time.time()
    play(desk.store, "latency-500ms", now - 2000, 600)  # over 20 minutes ago
    found = desk.declare("checkout feels slow", "P3", "user-report", "", new=False)
    assert found.drill is None and desk.truth(found) is None
    correct, said = desk.rootcause(found.id, "service-b", "latency")
    assert correct is None and "no drill was running" in said
    assert desk.score_of(desk.get(found.id)).scenario is None


def test_a_page_from_a_new_drill_opens_its_own_incident_while_another_drills_is_open(desk):
    now = time.time()
    play(desk.store, "worker-failure", now - 1000, 900)
    old = page(desk, "QueueBacklog", tier="P2", owner="fulfilment", ts=now - 900)
    play(desk.store, "deadlock", now - 30, 900)
    new = page(desk, "TargetDown", tier="P2", owner="orders")
    assert new.id != old.id and IncidentLog(desk.store).get(old.id).open


def test_a_mystery_stays_secret_past_its_time_limit_until_its_incident_is_resolved(desk):
    """Before, the faults' time limit ended the mystery: `scenario status` named it and the review showed
    "What was true" while the team still worked the incident, and a root-cause answer then got full credit."""
    now = time.time()
    run = play(desk.store, "fp-drift", now - 700, 600, mystery=True)
    inside = IncidentLog(desk.store, "trainee").declare("the ledger is short", "P2", "user-report", ts=now - 300)
    assert inside.drill == run
    assert hidden(desk.store), "the time limit ended the secrecy"
    assert desk.review(inside, reveal=False)["root_cause"]["truth"] is None
    with pytest.raises(Refused, match="still secret"):
        refuse_new_drill_while_secret(desk.store)
    correct, said = desk.rootcause(inside.id, "payment", "bad_deploy")
    assert correct is None and "no credit" in said and "time limit" in said
    scored = desk.score_of(desk.get(inside.id), reveal=True)
    assert scored.ttrc_s is None and scored.late_answers == 1 and scored.drill_end == "ended by its time limit"
    desk.resolve(inside.id, 60, unverified=True, say=print, progress=lambda *a: None)
    assert not hidden(desk.store)


def test_a_reveal_ends_the_secrecy_and_answers_after_it_earn_nothing(desk):
    run = play(desk.store, "latency-500ms", time.time() - 60, 900, mystery=True)
    incident = page(desk, "CheckoutLatencyFastBurn", tier="P2", owner="orders")
    assert incident.drill == run and hidden(desk.store)
    reveal(desk.store, "instructor")
    assert not hidden(desk.store)
    correct, said = desk.rootcause(incident.id, "service-b", "latency")
    assert correct is None and "after the drill was revealed" in said


def test_waiting_out_the_time_limit_is_never_a_verified_fix(desk):
    """Before, resolving a diagnosis drill after its faults expired ran a verify against a healthy lab and
    scored "verified fix"."""
    now = time.time()
    log = IncidentLog(desk.store, "trainee")
    play(desk.store, "process-crash", now - 700, 600)
    incident = log.declare("service-b keeps dying", "P2", "alerting", ts=now - 650)
    log.write(incident, "verified", "verify passed", {"duration_s": 60}, source="lab", ts=now - 30)  # after the limit
    done = desk.resolve(incident.id, 60, unverified=False, say=print, progress=lambda *a: None)
    assert (
        not done.verified and "ended by its time limit before a fix was verified" in done.incident.entries[-1]["text"]
    )
    scored = desk.score_of(desk.get(incident.id))
    assert scored.ttvf_s is None and scored.stage != "verified fix" and scored.ttm_s is None


def test_a_verifys_own_traffic_opens_no_incident_and_the_page_is_kept(desk):
    """Before, a passing verify's own load paged a new incident 8 s later."""
    silence.for_run(desk.store, 60, "verify", "trainee")
    assert page(desk, "CheckoutLatencyFastBurn", tier="P2") is None
    assert IncidentLog(desk.store).all() == []
    muted = [e for e in silence.Silences(desk.store).journal.entries() if e["event"] == "muted"]
    assert [m["alert"] for m in muted] == ["CheckoutLatencyFastBurn"]
    later = time.time() + 60 + silence.SETTLE_S + 1
    assert page(desk, "CheckoutLatencyFastBurn", tier="P2", ts=later) is not None


def test_a_verifys_silence_never_mutes_the_next_drill(desk):
    """Before, the silence a verify set for its run muted every page for two minutes after it: a drill
    started meanwhile opened no incident."""
    play(desk.store, "payment-failure", time.time() - 300, 900)
    silence.for_run(desk.store, 60, "verify", "trainee")
    assert page(desk, "PaymentSuccessFastBurn") is None  # the verify's own drill: muted
    run = play(desk.store, "latency-500ms", time.time(), 900)
    opened = page(desk, "CheckoutLatencyFastBurn", tier="P2")
    assert opened is not None and opened.drill == run


def test_triage_accepts_the_alert_that_paged_and_the_owner_it_names_and_gives_no_feedback_twice(desk):
    """Before, WHAT was graded against the drill's primary alert only (three fired in one tick; the one that
    paged and titled the incident was wrong), OWNER rejected the owner the paging alert names, and a second
    answer to a question said right or wrong, so two more calls found the key."""
    run = play(desk.store, "redis-outage", time.time() - 120, 600)
    incident = page(desk, "CheckoutAvailabilityFastBurn", tier="P1", owner="orders")
    assert incident.drill == run
    graded = {
        a.question: a for a in desk.triage(incident.id, {"what": "CheckoutAvailabilityFastBurn", "owner": "orders"})
    }
    assert graded["what"].correct and graded["owner"].correct
    again = desk.triage(incident.id, {"what": "OutboxBacklog", "owner": "fulfilment"})
    assert all(a.correct is None and "first answer counts" in a.note for a in again)
    record = desk.get(incident.id).of_kind("triage_answer")
    assert [e["data"]["correct"] for e in record] == [True, True, None, None]


def test_owner_accepts_the_team_of_every_real_fault_and_never_a_red_herrings():
    from chaoslab.chaos.drill import Run
    from chaoslab.chaos.scenarios import get
    from chaoslab.incident.truth import Truth

    def owners(scenario_id):
        return Truth(get(scenario_id), Run("r", 0, 1, False), 0, None).owners

    assert owners("multi-component") == {"orders", "fulfilment", "payments"}
    assert "fulfilment" not in owners("red-herring")  # the worker's CPU is the decoy


def test_the_answer_key_files_are_readable_by_their_owner_only(desk):
    """Before, scenario.json, audit.jsonl and shadow.jsonl were created world-readable."""
    import stat

    play(desk.store, "deadlock", time.time(), 600, mystery=True)
    desk.store.append("shadow.jsonl", "{}")
    for name in ("audit.jsonl", "scenario.json", "shadow.jsonl", "drills.jsonl"):
        mode = stat.S_IMODE((desk.store.directory / name).stat().st_mode)
        assert mode == 0o600, f"{name} is {oct(mode)}"


def test_a_page_titles_its_incident_in_plain_words(desk):
    """Before, the incident took the alert's summary as its title, burn-rate maths and "team local" in it,
    and every status update headlined it."""
    event = AlertEvent(
        "JourneyAvailabilityFastBurn",
        "P1",
        "fired",
        time.time(),
        owner="orders",
        summary="62.5% of synthetic browse probes fail or time out over 2m (budget 1%, burning 14.4x too fast; "
        "team local)",
        labels={"journey": "browse", "team": "local", "slo": "journey-availability"},
    )
    incident = on_alert(desk.store, event)
    assert incident.title == "Shoppers cannot browse: the front door fails or hangs"
    per_service = AlertEvent("TargetDown", "P2", "fired", time.time(), labels={"service": "service-b"})
    assert on_alert(desk.store, per_service).title == incident.title  # joined the same incident
    from chaoslab.alerts.definitions import RULES, headline

    assert headline("TargetDown", {"service": "service-b"}) == "service-b is not answering"
    for rule in RULES:
        assert rule.headline and not any(c.isdigit() for c in rule.headline.replace("service-", "")), rule.alert


def test_what_accepts_a_page_that_fired_before_the_team_opened_its_incident(desk):
    """Before, WHAT was graded against the incident's own timeline: a page that fired before a report opened
    the incident (here, muted by a verify's silence) was "wrong" though it was what the team saw fire."""
    play(desk.store, "upstream-failure", time.time() - 60, 900)
    silence.for_run(desk.store, 60, "verify", "trainee")
    assert page(desk, "CheckoutLatencyFastBurn", tier="P2") is None
    incident = desk.declare("the shop is sluggish", "P2", "user-report", "", new=False)
    (what,) = desk.triage(incident.id, {"what": "CheckoutLatencyFastBurn"})
    assert what.correct is True
