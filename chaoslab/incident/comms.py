"""The announcements the seeds practise, from templates filled with the incident's facts.

Three moments (acknowledgment, status update, resolution), two audiences: *internal* (the incident
channel: ids, alerts, owners, the current hypothesis) and *external* (a status page: what customers
notice, what we are doing, when we will say more; no internal names). Every fact comes from the
record, that is from what the team knows: its own SCOPE answer, its latest hypothesis or root-cause
answer, the last deploy, the tier's update interval. Nothing here reads the drill's truth.
"""

from __future__ import annotations

import time

from chaoslab.escape import printable
from chaoslab.incident import severity as tiers
from chaoslab.incident.record import Incident

MOMENTS = ("ack", "status", "resolved")
AUDIENCES = ("internal", "external")


def clock(ts: float | None) -> str:
    return "-" if ts is None else time.strftime("%H:%M %Z", time.localtime(ts))


def _impact(incident: Incident) -> str:
    answers = [e for e in incident.of_kind("triage_answer") if e["data"].get("question") == "scope"]
    if not answers:
        return "being assessed"
    value = answers[-1]["data"].get("value")
    if value == "all":
        return "all checkouts affected"
    if value == "none":
        return "checkout itself is not affected"
    if value == "partial":
        return "some checkouts affected"
    return f"about {float(value) * 100:.0f}% of checkouts affected"


def _since(incident: Incident) -> str:
    answers = [e for e in incident.of_kind("triage_answer") if e["data"].get("question") == "when"]
    return clock(answers[-1]["data"]["value"] if answers else incident.declared_at)


def _known_cause(incident: Incident) -> str:
    found = [e for e in incident.of_kind("root_cause_answer", "hypothesis") if e.get("source") != "shadow"]
    if not found:
        return "the cause is not known yet"
    last = found[-1]
    if last["kind"] == "root_cause_answer":
        return f"{last['data']['kind']} on {last['data']['service']}"
    return last["text"]


def _last_fix(incident: Incident, deploys: list[dict]) -> str:
    after = [d for d in deploys if d["ts"] >= incident.declared_at]
    if not after:
        return "no change shipped yet"
    d = after[-1]
    return f"{d['service']} {d.get('version', '')} ({d.get('summary', '')}) at {clock(d['ts'])}".replace("  ", " ")


def _next_update(incident: Incident, now: float) -> str:
    every = tiers.contract(incident.severity).update_every_s
    return f"Next update by {clock(now + every)}." if every else ""


def render(moment: str, audience: str, incident: Incident, deploys: list[dict], say: str = "", now=None) -> str:
    """The announcement for ``moment`` to ``audience``; ``say`` is the author's own words, added."""
    now = time.time() if now is None else now
    title, sev = printable(incident.title), incident.severity
    extra = f"\n{printable(say)}" if say else ""
    if audience == "external":
        if moment == "ack":
            body = f"Investigating: we are looking into reports of a problem: {title}. {_next_update(incident, now)}"
        elif moment == "status":
            body = (
                f"Update: we have identified the area affected and are working on a fix; "
                f"{_impact(incident)} since {_since(incident)}. {_next_update(incident, now)}"
            )
        else:
            body = (
                f"Resolved: the problem ({title}) is resolved as of {clock(now)}. It started at {_since(incident)}. "
                "We are sorry for the disruption and will publish a review."
            )
        return body.strip() + extra
    head = f"[{incident.id} | {sev} | {incident.describe_state()}] {title}"
    firing = ", ".join(sorted(incident.firing)) or "none firing"
    if moment == "ack":
        body = (
            f"{head}\nAcknowledged by {printable(incident.commander or 'the on-call')}, who is incident commander. "
            f"We are investigating.\nImpact: {_impact(incident)} since {_since(incident)}.\nAlerts: {firing}.\n"
            f"{_next_update(incident, now)}"
        )
    elif moment == "status":
        body = (
            f"{head}\nStatus: {incident.describe_state()}. Impact: {_impact(incident)} since {_since(incident)}.\n"
            f"What we know: {printable(_known_cause(incident))}.\n"
            f"What changed: {printable(_last_fix(incident, deploys))}.\nAlerts: {firing}.\n"
            f"{_next_update(incident, now)}"
        )
    else:
        verified = "verified under load" if incident.verified else "not verified under load yet"
        body = (
            f"{head}\nResolved at {clock(now)}; impact from {_since(incident)}. Cause: "
            f"{printable(_known_cause(incident))}. Fix: {printable(_last_fix(incident, deploys))}, {verified}.\n"
            "A blameless post-incident review follows: `chaoslab incident pir`."
        )
    return body.strip() + extra
