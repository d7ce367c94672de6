"""The announcements the seeds practise, written the way a person would write them.

Three moments (acknowledgment, status update, resolution), two audiences: *internal* (the incident
channel: ids, alerts, owners, the current hypothesis) and *external* (a status page, Statuspage's
model: what customers see, what is being done, when the next update comes; no internal names, no
alert maths). Every fact comes from what the team can know: the impact measured from the services'
own metrics (chaoslab.incident.impact, the one figure SCOPE and the review use too), its own
root-cause answer or hypothesis in words, the last deploy since the declaration, and the tier's
update interval. Nothing here names the drill.
"""

from __future__ import annotations

import time

from chaoslab import command
from chaoslab.chaos.faults import KINDS
from chaoslab.escape import printable
from chaoslab.incident import severity as tiers
from chaoslab.incident.impact import describe
from chaoslab.incident.record import Incident

MOMENTS = ("ack", "status", "resolved")
AUDIENCES = ("internal", "external")
SEEN = {
    "checkout": "failed or very slow checkouts",
    "fulfilment": "orders that have not shipped",
    "payment": "charges for the wrong amount",
}
"""What customers notice, per journey (chaoslab.incident.impact), for a status page."""
STATES = {"detected": "Investigating", "acknowledged": "Investigating", "mitigated": "Monitoring"}
"""Statuspage's incident states for the record's."""


def clock(ts: float | None) -> str:
    return "-" if ts is None else time.strftime("%H:%M %Z", time.localtime(ts))


def _since(incident: Incident) -> str:
    answers = [e for e in incident.of_kind("triage_answer") if e["data"].get("question") == "when"]
    return clock(answers[0]["data"]["value"] if answers else incident.declared_at)


def known_cause(incident: Incident) -> str:
    """The team's own latest root-cause answer in words, else its latest hypothesis, else that it is not known."""
    answers = [e for e in incident.of_kind("root_cause_answer") if e.get("source") != "shadow"]
    if answers:
        kind = KINDS.get(answers[-1]["data"]["kind"])
        return f"{kind.plainly if kind else answers[-1]['data']['kind']} in {answers[-1]['data']['service']}"
    hypotheses = incident.notes("hypothesis")
    return f"current hypothesis: {hypotheses[-1]['text']}" if hypotheses else "the cause is not known yet"


def fix_deployed(incident: Incident, deploys: list[dict]) -> str:
    """``fix deployed: chg-… to SERVICE at HH:MM (what)`` for the last deploy since the declaration, or
    ``no fix deployed yet``."""
    after = [d for d in deploys if d["ts"] >= incident.declared_at]
    if not after:
        return "no fix deployed yet"
    d = after[-1]
    summary = f" ({d['summary']})" if d.get("summary") else ""
    return f"fix deployed: {d.get('id', 'a change')} to {d['service']} at {clock(d['ts'])}{summary}"


def _next_update(incident: Incident, now: float) -> str:
    every = tiers.contract(incident.severity).update_every_s
    return f"Next update by {clock(now + every)}." if every else ""


def _counted(incident: Incident, figures: dict | None) -> str:
    """Since when the impact is counted, without dating the drill's first fault (WHEN's answer)."""
    if not figures:
        return ""
    if figures.get("counted_from") == "the first fault":
        return " since the problem began"
    return f" since it was declared at {clock(incident.declared_at)}"


def _seen(figures: dict | None) -> str:
    if not figures or figures.get("journey") is None or not figures.get("affected_share"):
        return "a problem with the shop"
    return SEEN[figures["journey"]]


PUBLIC_STATES = ("investigating", "identified", "monitoring", "resolved")
"""Statuspage's incident states, in order: what the public sees of where an incident stands."""


def public_state(incident: Incident) -> str:
    """Where the incident stands for the public, read from the record: resolved once resolved,
    monitoring once mitigated (the alerts resolved or a verify passed), identified once the team has
    named a root cause, investigating before."""
    if not incident.open:
        return "resolved"
    if incident.state == "mitigated":
        return "monitoring"
    return "identified" if incident.of_kind("root_cause_answer") else "investigating"


def render(
    moment: str,
    audience: str,
    incident: Incident,
    deploys: list[dict],
    say: str = "",
    now: float | None = None,
    figures: dict | None = None,
) -> str:
    """The announcement for ``moment`` to ``audience``; ``figures`` is the incident's impact so far
    (chaoslab.incident.impact.window); ``say`` is the author's own words, added."""
    now = time.time() if now is None else now
    extra = f"\n{printable(say)}" if say else ""
    if audience == "external":
        seen = _seen(figures)
        state = public_state(incident)
        if moment == "resolved":
            body = (
                f"Resolved: the problem causing {seen} is fixed as of {clock(now)}. It began around "
                f"{_since(incident)}. We are sorry for the disruption and will publish a review."
            )
        elif moment == "status" and state == "monitoring":
            body = f"Monitoring: a fix is in place for {seen}; we are watching closely. {_next_update(incident, now)}"
        elif moment == "status" and state == "identified":
            body = f"Identified: we know what causes {seen} and are working on a fix. {_next_update(incident, now)}"
        elif moment == "status":
            body = f"Investigating: we are still investigating {seen}. {_next_update(incident, now)}"
        else:
            body = f"Investigating: we are looking into reports of {seen}. {_next_update(incident, now)}"
        return body.strip() + extra
    head = f"[{incident.id} | {incident.severity} | {incident.describe_state()}] {printable(incident.title)}"
    impact = f"Impact: {describe(figures)}{_counted(incident, figures)}."
    firing = f"Alerts firing: {', '.join(sorted(incident.firing))}." if incident.firing else "No alert firing."
    cause = f"What we know: {printable(known_cause(incident))}."
    fixed = printable(fix_deployed(incident, deploys))
    fix = f"{fixed[:1].upper()}{fixed[1:]}."
    if moment == "ack":
        body = (
            f"{head}\nAcknowledged by {printable(incident.commander or 'the on-call')}, who is incident "
            f"commander. We are investigating.\n{impact}\n{firing}\n{_next_update(incident, now)}"
        )
    elif moment == "status":
        body = f"{head}\n{impact}\n{cause}\n{fix}\n{firing}\n{_next_update(incident, now)}"
    else:
        verified = "Verified under load." if incident.verified else "Not verified under load."
        body = (
            f"{head}\nResolved at {clock(now)}. {impact}\n{cause}\n{fix} "
            f"{verified}\nA blameless post-incident review follows: `{command('incident pir')}`."
        )
    return body.strip() + extra
