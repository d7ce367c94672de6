"""The one definition of SLOs and alerts: the chart's rule file is generated from it, every alert has a
tier, an owner, a runbook and a summary with its value, and every drill names an alert that exists."""

from __future__ import annotations

import re

import pytest
import yaml

from chaoslab.alerts import chartfiles, definitions, promql, rules, synthetic, tiers
from chaoslab.alerts.definitions import RULES, SLOS, check_alerts
from chaoslab.alerts.runbooks import RunbookError, find
from chaoslab.chaos import scenarios
from chaoslab.topology import COMPONENTS, DEPENDENCIES, FRONT_DOOR, PROBER, owner


def test_the_charts_rule_file_is_generated_from_the_definition():
    assert chartfiles.CHART_RULES.read_text() == rules.render(RULES), "files/alerts.yaml is stale: make docs"
    assert chartfiles.CHART_SYNTHETIC.read_text() == chartfiles.render_synthetic(), "synthetic.yaml: make docs"
    assert chartfiles.main(["--check"]) == 0


def test_the_front_door_pages_p1_from_the_synthetic_probes_alone():
    """A front door too busy to answer its own /metrics sends none of its counters: its P1 must read
    nothing but the prober's samples (and the prober's own health is watched, at P3)."""
    fast = next(r for r in RULES if r.alert == "JourneyAvailabilityFastBurn")
    selectors = promql.selectors(fast.ast)
    assert {s.name for s in selectors} == {synthetic.SUCCESS}
    assert all(all(m.matches({"service": PROBER.name}) for m in s.matchers) for s in selectors)
    assert (fast.severity, fast.owner) == ("P1", owner(FRONT_DOOR))
    down = next(r for r in RULES if r.alert == "ProberDown")
    assert down.severity == "P3" and f'service="{PROBER.name}"' in down.expr


def test_every_rule_is_complete_and_evaluable_locally():
    teams = {c.owner for c in COMPONENTS} | {d.owner for d in DEPENDENCIES}
    for rule in RULES:
        assert rule.ast is not None  # parses in the local evaluator, or raises naming the construct
        assert rule.severity in tiers.TIERS and rule.owner in teams, rule.alert
        assert "$value" in rule.summary, f"{rule.alert}'s summary must show the value"
        assert rule.for_s <= 60, f"{rule.alert}: a for: window longer than a minute cannot page a drill in 90 s"
        assert (rules.ROOT / rule.runbook_url).exists(), f"{rule.alert} links a missing runbook"


def test_burn_rate_alerts_page_at_14_4x_over_two_windows_and_ticket_at_6x():
    doc = yaml.safe_load(chartfiles.CHART_RULES.read_text())
    by_name = {r["alert"]: r for g in doc["groups"] for r in g["rules"]}
    for slo in SLOS:
        fast, slow = by_name[slo.name + "FastBurn"], by_name[slo.name + "SlowBurn"]
        budget = 1 - slo.objective
        assert re.findall(r"\[(\w+)\]", fast["expr"])[0] == "2m" and "[30s]" in fast["expr"]
        assert f"> {round(14.4 * budget, 6):g}" in fast["expr"] and f"> {round(6 * budget, 6):g}" in slow["expr"]
        assert fast["labels"]["severity"] == slo.severity and slow["labels"]["severity"] == "P3"


def test_per_service_alerts_carry_each_services_owner():
    owners = {(r.alert, r.labels["service"]): r.owner for r in definitions.SERVICE_RULES}
    for component in COMPONENTS:
        assert owners[("TargetDown", component.name)] == component.owner
    assert owners[("CircuitBreakerOpen", "payment")] == "payments"


def test_tiers_carry_a_response_contract_and_p0_means_p1():
    assert tiers.tier("P0") is tiers.TIERS["P1"] and tiers.tier("p2").name == "P2"
    for name in ("P1", "P2"):
        t = tiers.TIERS[name]
        assert t.pages and t.opens_incident and t.ack_within_s and t.update_every_s, name
    assert tiers.TIERS["P1"].ack_within_s < tiers.TIERS["P2"].ack_within_s
    assert not tiers.TIERS["P4"].pages and tiers.TIERS["P3"].ack_within_s is None
    assert "acknowledge within 5 min" in tiers.TIERS["P1"].contract()
    with pytest.raises(KeyError, match="P1, P2, P3, P4"):
        tiers.tier("P5")


def test_every_runbook_names_its_alerts_and_their_tiers():
    by_runbook: dict[str, set[str]] = {}
    for rule in RULES:
        by_runbook.setdefault(rule.runbook, set()).add(rule.alert)
    on_disk = {p.stem for p in rules.RUNBOOKS.glob("*.md")} - {"README"}
    assert on_disk == set(by_runbook), "one runbook per alert family, and no orphans"
    index = (rules.RUNBOOKS / "README.md").read_text()
    for runbook, alerts in by_runbook.items():
        text = (rules.RUNBOOKS / f"{runbook}.md").read_text()
        title = text.splitlines()[0]
        assert all(a in title for a in alerts), f"{runbook}.md's title must name {sorted(alerts)}"
        for heading in ("## What it means", "## First checks", "## Likely causes", "## Mitigation", "## Escalation"):
            assert heading in text, f"{runbook}.md lacks {heading}"
        tier_line = next(line for line in text.splitlines() if line.startswith("**Tier:**") or "**Tier:**" in line)
        for alert in alerts:
            severity = next(r.severity for r in RULES if r.alert == alert)
            assert severity in tier_line, f"{runbook}.md's tier line must give {alert}'s {severity}"
        assert f"({runbook}.md)" in index


def test_a_runbook_is_found_by_alert_name_or_runbook_name():
    assert find("queuebacklog", RULES)[0] == "worker-and-queue"
    assert find("database.md", RULES)[0] == "database"
    with pytest.raises(RunbookError, match="QueueBacklog"):
        find("NoSuchAlert", RULES)


def test_every_drill_names_alerts_that_exist():
    for drill in scenarios.catalogue():
        check_alerts(drill)


def test_a_drill_naming_an_unknown_alert_is_refused(tmp_path):
    text = (scenarios.CATALOGUE / "worker-failure.yaml").read_text().replace("alert: QueueBacklog", "alert: Nope")
    (tmp_path / "worker-failure.yaml").write_text(text)
    with pytest.raises(scenarios.ScenarioError, match="alert 'Nope' is not an alert"):
        check_alerts(scenarios.load(tmp_path / "worker-failure.yaml"))
