"""The post-incident review draft: one JSON document, and the same rendered as Markdown.

The floor is Google's postmortem template (summary, impact, root causes, trigger, resolution,
detection, action items, lessons learned: what went well, what went wrong, where we got lucky,
timeline, supporting information), with Kehoe's times and "detected by", typed action items with an
owner, a priority and a due date, and PagerDuty's exact impact numbers, responders and messaging.
It is blameless by construction: it names roles and systems, says what the team knew at each
moment, and puts the truth beside it (Chef's template) only once the drill is revealed.

Every number is measured (chaoslab.incident.impact, .score); every sentence that is not is marked
for the team to write.
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta

from chaoslab import command
from chaoslab.chaos.faults import KINDS
from chaoslab.escape import printable
from chaoslab.incident.impact import SLOW_S, describe
from chaoslab.incident.record import Incident, said
from chaoslab.timefmt import duration
from chaoslab.topology import owner

BLAMELESS = (
    "Blameless: this review is about the system and the conditions people worked in. Everyone acted on the "
    "best information they had at the time; where a step was missed, ask what made it easy to miss."
)
TO_WRITE = "_(to be written by the team)_"
PRIORITY = {"mitigate": "P1", "prevent": "P2", "detect": "P2", "process": "P3"}
DUE_DAYS = {"mitigate": 2, "prevent": 30, "detect": 14, "process": 14}


def _when(ts: float | None) -> str | None:
    return None if ts is None else datetime.fromtimestamp(ts).isoformat(timespec="seconds")


def _due(now: float, kind: str) -> str:
    return (datetime.fromtimestamp(now) + timedelta(days=DUE_DAYS[kind])).date().isoformat()


def _team_root_cause(incident: Incident) -> dict | None:
    answers = [a for a in incident.of_kind("root_cause_answer") if a.get("source") != "shadow"]
    right = [a for a in answers if a["data"].get("correct")]
    chosen = right[0] if right else (answers[-1] if answers else None)
    if chosen is None:
        return None
    return {
        "service": chosen["data"]["service"],
        "kind": chosen["data"]["kind"],
        "correct": chosen["data"].get("correct"),
        "at": _when(chosen["ts"]),
        "guesses": len(answers),
    }


def _team_trigger(incident: Incident, deploys: list[dict]) -> dict | None:
    answers = [e for e in incident.of_kind("triage_answer") if e["data"].get("question") == "change"]
    if not answers:
        return None
    value = answers[-1]["data"].get("value")
    change = next((d for d in deploys if d.get("id") == value), None)
    return {
        "answer": value,
        "correct": answers[-1]["data"].get("correct"),
        "change": None
        if change is None
        else {k: change.get(k) for k in ("id", "service", "version", "summary", "by")} | {"at": _when(change["ts"])},
    }


def _timeline(incident: Incident, truth, show_truth: bool, deploys: list[dict]) -> list[dict]:
    rows = [
        {
            "ts": e["ts"],
            "at": _when(e["ts"]),
            "column": "team" if e["source"] in ("team",) else "lab",
            "source": e["source"],
            "actor": e.get("actor", ""),
            "kind": e["kind"],
            "text": said(e),
            "links": e.get("links", []),
        }
        for e in incident.entries
    ]
    start = min([incident.declared_at] + ([truth.started_at] if show_truth else [])) - 900
    end = incident.resolved_at or time.time()
    named = {e["data"].get("value") for e in incident.of_kind("triage_answer") if e["data"].get("question") == "change"}
    if show_truth:
        named.add(truth.trigger_change)
    for d in deploys:
        if start <= d["ts"] <= end or d.get("id") in named:
            rows.append(
                {
                    "ts": d["ts"],
                    "at": _when(d["ts"]),
                    "column": "lab",
                    "source": "lab",
                    "actor": d.get("by", ""),
                    "kind": "deploy",
                    "text": f"deploy {d.get('id', '')} {d['service']} {d.get('version', '')}: {d.get('summary', '')}",
                    "links": [],
                }
            )
    if show_truth:
        rows.append(_truth_row(truth.started_at, "impact_started", f"impact started: {truth.scenario.summary}"))
        for f in truth.faults:
            if f["event"] == "fault.started":
                what = f"{f.get('kind')} on {f.get('where') or f.get('service')}" + (
                    " (red herring)" if f.get("red_herring") else ""
                )
                rows.append(_truth_row(f["ts"], "fault_injected", f"fault injected: {what}"))
            else:
                rows.append(
                    _truth_row(
                        f["ts"],
                        "fault_cleared",
                        f"fault cleared ({f.get('reason')}): {f.get('kind')} on {f.get('service')}",
                    )
                )
        for h in truth.hints:
            rows.append(_truth_row(h["ts"], "hint", f"hint {h.get('hint')} given"))
    return sorted(rows, key=lambda r: r["ts"])


def _truth_row(ts: float, kind: str, text: str) -> dict:
    return {
        "ts": ts,
        "at": _when(ts),
        "column": "truth",
        "source": "instructor",
        "actor": "",
        "kind": kind,
        "text": text,
        "links": [],
    }


def _factors(incident: Incident, score, impact: dict | None) -> list[dict]:
    """What made this incident worse or longer, read from what happened: each a fact with its evidence."""
    factors = []
    fired: dict[str, int] = {}
    for e in incident.of_kind("alert_fired"):
        fired[e["data"].get("alert", "")] = fired.get(e["data"].get("alert", ""), 0) + 1
    for alert, times in sorted(fired.items()):
        if times > 1:
            factors.append({"factor": "flapping alert", "alert": alert, "text": f"{alert} fired {times} times"})
    if incident.detected_by != "alerting":
        factors.append({"factor": "no page", "text": f"detected by {incident.detected_by}: no alert paged"})
    paging = [e["data"] for e in incident.of_kind("alert_fired") if e["data"].get("runbook_url")]
    if paging and (score.hints or score.wrong_root_causes):
        factors.append(
            {
                "factor": "runbook did not settle it",
                "runbook": paging[0]["runbook_url"],
                "text": f"{paging[0]['alert']} paged with its runbook, and the team still took {score.hints} hint(s) "
                f"and gave {score.wrong_root_causes} wrong root cause(s)",
            }
        )
    if score.overdue_updates:
        factors.append({"factor": "late update", "text": f"{score.overdue_updates} status update(s) were overdue"})
    if score.escalations:
        factors.append({"factor": "late acknowledgment", "text": "the page escalated before it was acknowledged"})
    if score.shadow_answers and score.shadow_ttrc_s is None:
        factors.append(
            {
                "factor": "shadow missed",
                "text": f"the shadow on-call answered {score.shadow_answers} time(s) and never named the root cause",
            }
        )
    if impact and impact.get("unfulfilled"):
        factors.append(
            {"factor": "orders not shipped", "text": f"{impact['unfulfilled']} paid orders had not shipped at the end"}
        )
    if impact and impact.get("mischarged"):
        factors.append(
            {"factor": "customers charged wrong", "text": f"{impact['mischarged']} charges took a wrong amount"}
        )
    return factors


def _action_items(incident: Incident, score, cause: dict | None, factors: list[dict], now: float) -> list[dict]:
    """Typed items (Kehoe: mitigate / prevent / process; plus detect), each from something that happened,
    with an owner (the commander, a person, or the owning team), a priority and a due date. The prevent
    item is the problem record: it outlives the incident."""
    items = []
    commander = incident.commander or "the incident commander"
    kinds = {f["factor"]: f for f in factors}
    if "orders not shipped" in kinds:
        items.append(("mitigate", f"Ship or refund the {kinds['orders not shipped']['text']}", owner("worker")))
    if "customers charged wrong" in kinds:
        items.append(
            (
                "mitigate",
                f"Correct and tell the customers: {kinds['customers charged wrong']['text']}",
                owner("payment"),
            )
        )
    if not incident.verified:
        items.append(
            ("mitigate", f"Prove the fix under load (`{command('verify')}`): it was never verified", commander)
        )
    if cause:
        items.append(
            (
                "prevent",
                f"Keep {cause['plainly']} in {cause['service']} from recurring: a test, a guard or a safer default",
                owner(cause["service"]),
            )
        )
    else:
        items.append(("prevent", "Find and record the root cause (the problem record stays open)", commander))
    if "no page" in kinds or (score.ttd_s or 0) > 300:
        items.append(("detect", "Page on the symptom customers saw, before a user reports it", owner("service-a")))
    for factor in factors:
        if factor["factor"] == "flapping alert":
            items.append(("detect", f"Steady {factor['alert']}: {factor['text']} in one incident", commander))
        elif factor["factor"] == "runbook did not settle it":
            items.append(("process", f"Improve the runbook {factor['runbook']}: {factor['text']}", commander))
        elif factor["factor"] in ("late update", "late acknowledgment"):
            items.append(("process", f"Rehearse the response contract: {factor['text']}", commander))
    return [
        {"type": kind, "item": item, "owner": who, "priority": PRIORITY[kind], "due": _due(now, kind)}
        for kind, item, who in items
    ]


def _lessons(incident: Incident, score, measured_from: str) -> dict:
    good, bad = [], []
    after = f"after {measured_from}"
    if score.tta_s is not None:
        (good if score.escalations == 0 else bad).append(
            f"acknowledged {duration(score.tta_s)} {after}" + (" (escalated first)" if score.escalations else "")
        )
    else:
        bad.append("never acknowledged")
    if score.ttrc_s is not None:
        good.append(f"root cause named {duration(score.ttrc_s)} {after}")
    if getattr(score, "shadow_ttrc_s", None) is not None:
        good.append(f"for comparison, the shadow on-call named it {duration(score.shadow_ttrc_s)} {after}")
    if score.wrong_root_causes:
        bad.append(
            f"{score.wrong_root_causes} wrong root-cause answer(s)"
            + (" before the right one" if score.ttrc_s is not None else ", and no right one")
        )
    if score.late_answers:
        bad.append(f"{score.late_answers} answer(s) came after the drill ended and earned nothing")
    if incident.verified:
        good.append("the fix was verified under load before the incident was resolved")
    elif incident.resolved_at:
        bad.append("resolved without a passing verify: the fix is not proven")
    if score.drill_end:
        bad.append(f"the drill {score.drill_end}")
    if score.triage_right:
        good.append(f"{score.triage_right} of 5 triage answers right")
    if score.overdue_updates:
        bad.append(f"{score.overdue_updates} status update(s) overdue")
    if score.hints:
        bad.append(f"{score.hints} hint(s) needed")
    return {"went_well": good, "went_wrong": bad, "got_lucky": []}


def draft(
    incident: Incident,
    truth,
    show_truth: bool,
    deploys: list[dict],
    impact: dict | None,
    impact_basis: str,
    score,
    now: float | None = None,
) -> dict:
    """The review as one JSON document (``markdown`` renders it)."""
    now = time.time() if now is None else now
    root = _team_root_cause(incident)
    trigger = _team_trigger(incident, deploys)
    responders = sorted(
        {e.get("actor") for e in incident.entries if e["source"] == "team" and e.get("actor")}
        | set(incident.roles.values())
    )
    measured_from = "the first fault" if score.graded else "the declaration"
    start = score.t0
    end = incident.resolved_at or (min(now, truth.ends_at) if show_truth else now)  # a stopped drill ended it
    cause = (
        {"service": truth.root_service, "kind": truth.root_kind}
        if show_truth
        else (root if root and root.get("correct") is not False else None)
    )
    if cause:
        cause["plainly"] = KINDS[cause["kind"]].plainly if cause["kind"] in KINDS else cause["kind"]
    factors = _factors(incident, score, impact)
    alerts = [e["data"] for e in incident.of_kind("alert_fired")]
    messages = [
        {
            "at": _when(e["ts"]),
            "moment": e["data"].get("moment"),
            "audience": e["data"].get("audience"),
            "text": e["text"],
        }
        for e in incident.of_kind("status_update")
    ]
    verify_runs = [
        {"at": _when(e["ts"]), "passed": e["kind"] == "verified", "text": e["text"]}
        for e in incident.of_kind("verified", "verify_failed")
    ]
    doc = {
        "incident": incident.id,
        "title": incident.title,
        "status": "draft",
        "blameless": BLAMELESS,
        "severity": incident.severity,
        "state": incident.describe_state(),
        "commander": incident.commander,
        "roles": dict(incident.roles),
        "responders": responders,
        "detected_by": incident.detected_by,
        "alerts": alerts,
        "times": {
            "impact_started": _when(truth.started_at) if show_truth else None,
            "declared": _when(incident.declared_at),
            "detected": _when(score.at(score.ttd_s)),
            "acknowledged": _when(incident.acknowledged_at),
            "mitigated": _when(incident.mitigated_at),
            "root_cause_named": _when(score.at(score.ttrc_s)),
            "verified": _when(score.at(score.ttvf_s)),
            "resolved": _when(incident.resolved_at),
            "ttd_s": score.ttd_s,
            "tta_s": score.tta_s,
            "ttrc_s": score.ttrc_s,
            "ttm_s": score.ttm_s,
            "ttvf_s": score.ttvf_s,
            "duration_s": round(end - start, 1),
            "paused_s": score.paused_s,
            "measured_from": measured_from,
        },
        "impact": dict(impact or {}, basis=impact_basis),
        "root_cause": {
            "team": root,
            "truth": {
                "service": truth.root_service,
                "kind": truth.root_kind,
                "explanation": " ".join(truth.scenario.root_cause["explanation"].split()),
            }
            if show_truth
            else None,
        },
        "trigger": {
            "team": trigger,
            "truth": (truth.trigger_change or "none") if show_truth else None,
        },
        "resolution": {
            "deploys": [
                {k: d.get(k) for k in ("id", "service", "version", "summary", "by")} | {"at": _when(d["ts"])}
                for d in deploys
                if incident.declared_at <= d["ts"] <= end
            ],
            "verify_runs": verify_runs,
            "verified": incident.verified,
        },
        "communication": messages,
        "contributing_factors": factors,
        "action_items": _action_items(incident, score, cause, factors, now),
        "lessons": _lessons(incident, score, measured_from),
        "five_whys": _five_whys(incident, impact, root, truth, show_truth),
        "timeline": _timeline(incident, truth, show_truth, deploys),
        "key_moments": [
            {"at": _when(e["ts"]), "by": e.get("actor", ""), "text": e["text"]}
            for e in incident.notes()
            if (e.get("data") or {}).get("key")
        ],
        "score": score.to_json(),
        "scenario": {"id": truth.scenario.id, "title": truth.scenario.title} if show_truth else None,
        "truth_shown": show_truth,
        "drafted_at": _when(now),
    }
    doc["summary"] = _summary(doc, incident)
    return doc


def _five_whys(incident: Incident, impact: dict | None, root: dict | None, truth, show_truth: bool) -> list[dict]:
    first = "Why did customers notice?"
    answer = incident.title
    if impact and impact.get("checkouts"):
        answer = (
            f"{impact['affected']} of {impact['checkouts']} checkouts failed or took over {SLOW_S:g} s "
            f"({incident.title})"
        )
    whys = [{"why": first, "because": answer}]
    cause = (
        f"{truth.root_kind} on {truth.root_service}"
        if show_truth
        else (f"{root['kind']} on {root['service']} (the team's answer)" if root else None)
    )
    whys.append({"why": "Why did that happen?", "because": cause or TO_WRITE})
    for _ in range(3):
        whys.append({"why": "Why?", "because": TO_WRITE})
    return whys


def _summary(doc: dict, incident: Incident) -> str:
    impact = doc["impact"]
    parts = [f"{incident.severity} incident {incident.id}: {incident.title}."]
    if impact.get("affected_share") is not None:
        parts.append(f"Impact: {describe(impact)}; checkout p95 {impact.get('p95_ms')} ms.")
    parts.append(f"It lasted {duration(doc['times']['duration_s'])}, measured from {doc['times']['measured_from']}.")
    root = doc["root_cause"]["truth"] or doc["root_cause"]["team"]
    if root:
        parts.append(f"Cause: {root['kind']} on {root['service']}.")
    parts.append("The fix was verified under load." if incident.verified else f"State: {incident.describe_state()}.")
    return " ".join(parts)


def _or_unmeasured(value) -> str:
    return "not measured (the worker did not answer)" if value is None else str(value)


def _cell(text: object) -> str:
    return printable(text).replace("|", "\\|")


def _roles_line(doc: dict) -> list[str]:
    """The roles besides the commander, as the header's second line (none assigned: no line)."""
    others = [f"{role} {_cell(name)}" for role, name in doc.get("roles", {}).items() if role != "commander"]
    return ["", f"Roles: {' · '.join(others)}"] if others else []


def markdown(doc: dict) -> str:
    """The review as Markdown (a draft to edit; every table cell escaped)."""
    t, i = doc["times"], doc["impact"]
    out = [
        f"# Post-incident review: {doc['incident']}, {_cell(doc['title'])}",
        "",
        f"> {doc['blameless']}",
        "",
        f"Status: {doc['status']} · Severity {doc['severity']} · {doc['state']} · Commander "
        f"{_cell(doc['commander'] or 'none')} · Responders: {_cell(', '.join(doc['responders']) or 'none')} · "
        f"Drafted {doc['drafted_at']}",
        *_roles_line(doc),
        "",
        "## Summary",
        "",
        _cell(doc["summary"]),
        "",
        "## Impact",
        "",
        f"Measured from the services' metrics, {i.get('basis', 'over the incident')}: {describe(i)}.",
        "",
        "| Measure | Value |",
        "|---|---|",
    ]
    if i.get("checkouts") is not None:
        checkout_share = f" ({i['affected'] / i['checkouts']:.0%})" if i["checkouts"] else ""
        out += [
            f"| Checkouts | {i['checkouts']} |",
            f"| Failed (5xx) | {i['failed']} |",
            f"| Slower than {SLOW_S:g} s | {i['slow']} |",
            f"| Checkouts affected (failed or slow) | {i['affected']}{checkout_share} |",
            f"| p95 checkout latency | {i['p95_ms']} ms |",
            f"| Orders paid | {i.get('paid')} |",
            f"| Orders paid and not shipped | {_or_unmeasured(i.get('unfulfilled'))} |",
            f"| Charges for a wrong amount | {i.get('mischarged')} of {i.get('charges')} |",
            f"| Revenue at risk (failed × average order {i.get('average_order')}) | {i.get('revenue_at_risk')} |",
            f"| Ledger drift (charged but not captured) | {i.get('ledger_drift')} |",
        ]
    else:
        out.append("| Checkouts | not measured (the lab did not answer) |")
    paused = f"; {duration(t['paused_s'])} of it on a break, left out of every time below" if t["paused_s"] else ""
    out.append(f"| Duration | {duration(t['duration_s'])} (from {t['measured_from']}{paused}) |")
    out += ["", "## Times", "", f"| Moment | At | Since {t['measured_from']} |", "|---|---|---|"]
    for label, key, since in (
        ("Impact started", "impact_started", None),
        ("Declared", "declared", None),
        ("Detected (the ack, or WHAT and WHEN answered right)", "detected", "ttd_s"),
        ("Acknowledged", "acknowledged", "tta_s"),
        ("Root cause named", "root_cause_named", "ttrc_s"),
        ("Mitigated (SLIs in target)", "mitigated", "ttm_s"),
        ("Verified fix", "verified", "ttvf_s"),
        ("Resolved", "resolved", None),
    ):
        at = t.get(key) if key else None
        elapsed = t.get(since) if since else None
        shown_at = at or ("hidden until the drill is revealed" if key == "impact_started" else "-")
        out.append(f"| {label} | {shown_at} | {duration(elapsed) if elapsed is not None else '-'} |")
    alerts = ", ".join(f"{a['alert']} ({a['severity']})" for a in doc["alerts"]) or "none"
    out += ["", "## Detection", "", f"Detected by: {doc['detected_by']}. Alerts: {_cell(alerts)}.", ""]
    out += ["## Root causes and trigger", ""]
    team_root = doc["root_cause"]["team"]
    if team_root:
        mark = {True: "right", False: "wrong", None: "not graded"}[team_root["correct"]]
        out.append(
            f"- The team's answer: {team_root['kind']} on {team_root['service']} ({mark}; "
            f"{team_root['guesses']} answer(s) given)."
        )
    else:
        out.append("- The team's answer: none given.")
    if doc["root_cause"]["truth"]:
        truth = doc["root_cause"]["truth"]
        out.append(f"- What was true: {truth['kind']} on {truth['service']}: {_cell(truth['explanation'])}")
    trig = doc["trigger"]["team"]
    if trig:
        change = trig["change"]
        shown = f"{change['id']} {change['service']}: {_cell(change['summary'])}" if change else trig["answer"]
        out.append(f"- Trigger, the team's answer: {shown}.")
    if doc["trigger"]["truth"] is not None:
        out.append(f"- Trigger, what was true: {doc['trigger']['truth']}.")
    out += ["", "## Resolution", ""]
    for d in doc["resolution"]["deploys"]:
        out.append(
            f"- {d['at']} deploy {d.get('id') or ''} {d['service']} {d.get('version') or ''}: {_cell(d['summary'])}"
        )
    for v in doc["resolution"]["verify_runs"]:
        out.append(f"- {v['at']} verify {'passed' if v['passed'] else 'failed'}: {_cell(v['text'])}")
    if not doc["resolution"]["deploys"] and not doc["resolution"]["verify_runs"]:
        out.append("- No deploy and no verify run during the incident.")
    out += ["", "## Contributing factors", ""]
    out += [f"- {_cell(f['text'])}" for f in doc["contributing_factors"]] or ["- none recorded by the lab"]
    out += ["", "## Action items", "", "| Type | Item | Owner | Priority | Due |", "|---|---|---|---|---|"]
    for item in doc["action_items"]:
        out.append(
            f"| {item['type']} | {_cell(item['item'])} | {_cell(item['owner'])} | {item['priority']} | {item['due']} |"
        )
    out += [
        "",
        "The prevent items are the problem record: the incident is closed once service is restored, the "
        "problem only when they are done.",
        "",
        "## Lessons learned",
        "",
    ]
    for title, key in (
        ("What went well", "went_well"),
        ("What went wrong", "went_wrong"),
        ("Where we got lucky", "got_lucky"),
    ):
        out.append(f"### {title}")
        out.append("")
        out += [f"- {_cell(x)}" for x in doc["lessons"][key]] or [f"- {TO_WRITE}"]
        out.append("")
    out += ["## Five Whys", ""]
    for n, why in enumerate(doc["five_whys"], 1):
        out.append(f"{n}. {why['why']} {_cell(why['because']) if why['because'] != TO_WRITE else TO_WRITE}")
    if doc["key_moments"]:
        out += ["", "## Key moments", ""]
        out += [f"- {m['at'][11:]} {_cell(m['text'])} ({_cell(m['by'] or '-')})" for m in doc["key_moments"]]
    out += ["", "## Timeline", ""]
    if doc["truth_shown"]:
        out += ["| Time | What the team knew and did | What was true |", "|---|---|---|"]
    else:
        out += ["| Time | What the team knew and did |", "|---|---|"]
    for row in doc["timeline"]:
        at = row["at"][11:] if row["at"] else "-"
        who = f" ({_cell(row['actor'])})" if row["actor"] and row["column"] != "truth" else ""
        text = f"{row['kind']}{who}: {_cell(row['text'].splitlines()[0] if row['text'] else '')}"
        if doc["truth_shown"]:
            out.append(
                f"| {at} | {text if row['column'] != 'truth' else ''} | {text if row['column'] == 'truth' else ''} |"
            )
        else:
            out.append(f"| {at} | {text} |")
    out += ["", "## Communication", ""]
    for m in doc["communication"]:
        out.append(f"- {m['at']} {m['moment']} ({m['audience']}):")
        out += [f"  > {printable(line)}" for line in m["text"].splitlines()]
    if not doc["communication"]:
        out.append("- No status update was sent.")
    s = doc["score"]
    out += [
        "",
        "## Supporting information",
        "",
        f"- Score: {s['stage']}, effective {s['effective_min']} min (penalties {s['penalty_min']} min); "
        f"triage {s['triage_right']}/5; wrong root-cause answers {s['wrong_root_causes']}; hints {s['hints']}; "
        f"overdue updates {s['overdue_updates']} (formula: docs/scoring.md).",
    ]
    if doc["scenario"]:
        out.append(f"- Drill: {doc['scenario']['id']} ({_cell(doc['scenario']['title'])}).")
    out.append(
        f"- Replay: `chaoslab replay --at {doc['times']['declared'][11:]}` opens the drill's recording at the "
        "declaration, and any time above works with --at; the console lists the recordings under /replay/ "
        "(on a cohort cluster, the platform console's /teams/TEAM/replay/)."
    )
    links = sorted({link for row in doc["timeline"] for link in row["links"]})
    out += [f"- {_cell(link)}" for link in links]
    return "\n".join(out) + "\n"
