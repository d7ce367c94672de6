"""The post-incident review draft and the announcements: the template's fields, real numbers, blameless
wording, the truth only when shown, and text from data escaped."""

from __future__ import annotations

from chaoslab.chaos.drill import Run
from chaoslab.chaos.journal import FileStore
from chaoslab.chaos.scenarios import get
from chaoslab.incident import comms, impact, review, score
from chaoslab.incident.record import IncidentLog, entry
from chaoslab.incident.truth import Truth

T0 = 1_800_000_000.0
FIGURES = {
    "from": T0,
    "to": T0 + 900,
    "checkouts": 412,
    "failed": 0,
    "slow": 3,
    "affected": 3,
    "paid": 410,
    "unfulfilled": 2,
    "charges": 410,
    "mischarged": 130,
    "journey": "payment",
    "affected_share": 0.3171,
    "counted_from": "the first fault",
    "p95_ms": 230,
    "average_order": 41.5,
    "revenue_at_risk": 0.0,
    "ledger_drift": 0.58,
}


def incident_with_moves(tmp_path):
    log = IncidentLog(FileStore(tmp_path), "alice")
    incident = log.declare("books | off\nby cents", "P2", "user-report", ts=T0 + 120)
    for kind, at, data in [
        ("acknowledged", 180, {"commander": "alice"}),
        ("status_update", 200, {"moment": "ack", "audience": "internal"}),
        ("root_cause_answer", 400, {"service": "payment", "kind": "bad_deploy", "correct": True}),
        ("verified", 700, {}),
        ("resolved", 710, {"verified": True}),
    ]:
        log.write(log.get(), kind, f"{kind} text", data, ts=T0 + at)
    log.add(entry(incident.id, "note", "one line\n| forged | row |", ts=T0 + 500))  # as a hand-edited journal might
    return log.get(incident.id)


def truth() -> Truth:
    faults = [
        {"event": "fault.started", "ts": T0, "kind": "bad_deploy", "service": "payment", "where": "payment"},
        {"event": "fault.reverted", "ts": T0 + 800, "kind": "bad_deploy", "service": "payment", "reason": "stop"},
    ]
    return Truth(
        scenario=get("fp-drift"),
        run=Run("run-review", T0, T0 + 800, mystery=True),
        started_at=T0,
        trigger_change="chg-abc123",
        faults=faults,
    )


def drafted(tmp_path, show_truth: bool):
    incident = incident_with_moves(tmp_path)
    measured = score.measure(incident, truth() if show_truth else None, score.first_answers(incident), now=T0 + 1000)
    deploys = [
        {
            "ts": T0 + 600,
            "id": "chg-fix001",
            "service": "payment",
            "version": "r9",
            "summary": "money_math=decimal",
            "by": "alice",
        }
    ]
    return review.draft(incident, truth(), show_truth, deploys, FIGURES, "the impact window", measured, now=T0 + 1000)


def test_the_draft_has_the_templates_fields_and_the_real_numbers(tmp_path):
    doc = drafted(tmp_path, show_truth=True)
    text = review.markdown(doc)
    for heading in (
        "## Summary",
        "## Impact",
        "## Times",
        "## Detection",
        "## Root causes and trigger",
        "## Resolution",
        "## Action items",
        "### What went well",
        "### What went wrong",
        "### Where we got lucky",
        "## Five Whys",
        "## Timeline",
        "## Communication",
        "## Supporting information",
    ):
        assert heading in text
    assert text.count("> Blameless:") == 1
    assert "| Checkouts | 412 |" in text and "| p95 checkout latency | 230 ms |" in text
    assert "| Ledger drift (charged but not captured) | 0.58 |" in text
    assert "32% of the charges took a wrong amount (130 of 410)" in text  # the one figure, in words
    assert "| Orders paid and not shipped | 2 |" in text and "| Charges for a wrong amount | 130 of 410 |" in text
    assert doc["times"]["ttvf_s"] == 700 and doc["times"]["duration_s"] == 710
    types = {item["type"] for item in doc["action_items"]}
    assert "prevent" in types and all(item["owner"] and item["due"] for item in doc["action_items"])
    assert any(i["owner"] == "payments" for i in doc["action_items"] if i["type"] == "prevent")
    items = " ".join(i["item"] for i in doc["action_items"])
    assert "runbook" not in items, "no boilerplate runbook item: nothing showed a runbook failing"
    assert "2 paid orders had not shipped" in items and "130 charges took a wrong amount" in items
    factors = [f["factor"] for f in doc["contributing_factors"]]
    assert factors == ["no page", "orders not shipped", "customers charged wrong"]
    assert "## Contributing factors" in text
    assert "| What the team knew and did | What was true |" in text
    assert "fault_injected: fault injected: bad_deploy on payment" in text
    assert "books \\| off by cents" in text  # a cell stays a cell
    assert "note: one line |" in text and "forged" not in text  # a timeline row is one line of its entry


def test_before_the_reveal_the_review_holds_only_what_the_team_knew(tmp_path):
    doc = drafted(tmp_path, show_truth=False)
    text = review.markdown(doc)
    assert doc["root_cause"]["truth"] is None and doc["scenario"] is None and doc["times"]["impact_started"] is None
    assert "What was true" not in text and "fault_injected" not in text and "fp-drift" not in text
    assert "hidden until the drill is revealed" in text
    assert "after the declaration" in text and "after the first fault" not in text  # times say what they count from


def test_announcements_read_as_a_person_wrote_them_and_external_ones_name_nothing_internal(tmp_path):
    """Before, updates headlined a raw alert summary with burn-rate maths and "team local", named the cause
    as a fault id, and said "Fix: no change shipped yet, verified under load"."""
    incident = incident_with_moves(tmp_path)
    deploy = {"ts": T0 + 600, "id": "chg-fix001", "service": "payment", "summary": "money_math=decimal"}
    figures = dict(FIGURES, journey="payment", affected_share=0.31, charges=412, mischarged=128)
    figures["counted_from"] = "the first fault"
    internal = comms.render("status", "internal", incident, [deploy], "rolling back", now=T0 + 650, figures=figures)
    assert incident.id in internal and internal.endswith("rolling back")
    assert "a bad configuration change in payment" in internal and "bad_deploy" not in internal
    assert "31% of the charges took a wrong amount (128 of 412) since the problem began" in internal
    assert "Fix deployed: chg-fix001 to payment at" in internal
    assert "No fix deployed yet." in comms.render("status", "internal", incident, [], now=T0 + 650, figures=figures)
    for moment in ("ack", "status", "resolved"):
        external = comms.render(moment, "external", incident, [deploy], now=T0 + 650, figures=figures)
        assert "charges for the wrong amount" in external
        for internal_word in (incident.id, "payment", "burn", "budget", "team", "P2", "chg-"):
            assert internal_word not in external, f"{moment}: {internal_word!r} in {external!r}"
    resolved = comms.render("resolved", "internal", incident, [deploy], now=T0 + 900, figures=figures)
    assert "Verified under load." in resolved and "post-incident review" in resolved


def test_slow_checkouts_on_a_busy_host_do_not_hide_the_charges_that_took_a_wrong_amount():
    """The impact named only the worst journey: a busy host's slow checkouts (32%) hid the money drift
    the drill was about. Every hurt journey is named, the worst first; what is within its SLO is not."""
    figures = dict(FIGURES, journey="checkout", affected_share=0.32, checkouts=19, affected=6, charges=30)
    figures["mischarged"] = 1
    said = impact.describe(figures)
    assert said == (
        "32% of checkouts failed or took longer than 0.5 s (6 of 19); 3% of the charges took a wrong amount (1 of 30)"
    ), said
    assert "shipped" not in said  # 2 of 410 orders in flight is within the fulfilment SLO
    assert "under 1% of the charges" in impact.describe(dict(figures, charges=1000))
    assert impact.describe(dict(figures, mischarged=0)) == "32% of checkouts failed or took longer than 0.5 s (6 of 19)"
