"""The incident record: an append-only timeline per lab, folded into incidents on read.

Every fact about an incident is one timeline entry in the lab's journal store (``incidents.jsonl``:
a file in the local lab's state directory, a key of the team's board ConfigMap on Kubernetes), in
the shape TRAINING.md gives: ``ts``, ``source`` (alert, lab, team, instructor, shadow), ``actor``,
``kind``, ``text``, ``links``, plus the ``incident`` it belongs to and structured ``data``. Appends
are atomic in both stores, so the lab daemon, the trainees and the instructor can all write at once
and nobody rewrites anybody's entry. Severity, state, commander and times are folded from the
entries; nothing else holds them.

Notes and hypotheses are numbered in their incident (``no``, folded: #1, #2, ...). A wrong one is
corrected, never edited: a new note with ``data.corrects`` names the number it replaces, and the old
one is folded as ``superseded_by`` the new one. Both stay on the record; readers that want what the
team holds now (the latest hypothesis, the review's key moments) take ``Incident.notes``.

Ground truth (the fault injected, when it really started, when it was cleared) is never written
here: the board is what the team can read. The truth lives in the instructor's journals and joins
the timeline only in views allowed to show it (``chaoslab.incident.truth``).

Escalations and overdue status updates are settled on read (``IncidentLog.settle``): every command
that reads incidents first writes the ``escalated`` and ``update_overdue`` entries whose deadline has
passed, dated at the deadline, once each. The lab daemon may call ``settle`` on its own loop too; the
result is the same entries at the same times.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field

from chaoslab import command
from chaoslab.chaos.drill import Break, DrillJournal, after_play
from chaoslab.chaos.journal import Store
from chaoslab.errors import BadInput, Refused
from chaoslab.incident import rota
from chaoslab.incident import severity as tiers
from chaoslab.incident.rota import Rota

NOTES = ("note", "hypothesis")
"""The kinds numbered in an incident, which a later note may correct."""
INCIDENTS = "incidents.jsonl"
"""The store key of the timeline (the board on Kubernetes: trainees read and write it)."""

SOURCES = ("alert", "lab", "team", "instructor", "shadow")
KINDS = (
    # TRAINING.md's kinds that a team's record holds
    "alert_fired",
    "acknowledged",
    "triage_answer",
    "note",
    "status_update",
    "hypothesis",
    "root_cause_answer",
    "deploy",
    "mitigated",
    "verified",
    "escalated",
    "resolved",
    # this lab's additions
    "declared",
    "severity",
    "commander",
    "role",
    "disposition",
    "alert_resolved",
    "verify_failed",
    "update_overdue",
)
TRUTH_KINDS = ("impact_started", "fault_injected", "fault_cleared", "hint", "revealed")
"""Kinds only the truth adds to a view (never stored on the board)."""

ROLES = {
    "commander": "incident commander: runs the response, decides, delegates",
    "comms": "communications lead: the status updates, inside and out",
    "scribe": "scribe: keeps the timeline (notes, key moments)",
    "ops": "operations lead: hands on the system, makes the changes",
}
"""The response roles a team assigns (PagerDuty's incident response model); ``commander`` is also who
acknowledged, unless someone else is named."""

DISPOSITIONS = ("false_positive", "duplicate")
"""How a team closes an incident that is not one of its own: nothing was wrong (a verify's load, a
flapping alert), or the same story as another incident."""

STATES = ("detected", "acknowledged", "mitigated", "resolved")
DETECTED_BY = ("alerting", "user-report", "monitoring")
"""Kehoe's "detected by": a page, a user's report, or someone watching a dashboard (ad-hoc monitoring)."""


class NoIncident(Refused):
    """No incident matches; the message says how to open or find one."""


@dataclass
class Incident:
    id: str
    title: str
    severity: str
    declared_at: float
    detected_by: str
    declared_by: str
    entries: list[dict] = field(default_factory=list)
    commander: str | None = None
    acknowledged_at: float | None = None
    mitigated_at: float | None = None
    resolved_at: float | None = None
    verified: bool = False
    firing: dict[str, dict] = field(default_factory=dict)
    """Alerts attached to this incident that are firing now, by name."""
    roles: dict[str, str] = field(default_factory=dict)
    """Who holds each response role (ROLES), as last assigned; the commander too."""
    disposition: dict | None = None
    """Set when the team closed it as not an incident of its own: ``{"as": "false_positive" | "duplicate",
    "of": "INC-2", "reason": ...}``. Such an incident is closed and kept out of the scores."""
    drill: str | None = None
    """The id of the drill run being played when it was declared (chaos.drill), bound once: its answer
    key. None: no drill ran then, and nothing about it is graded."""

    @property
    def state(self) -> str:
        if self.resolved_at is not None:
            return "resolved"
        if self.mitigated_at is not None:
            return "mitigated"
        if self.acknowledged_at is not None:
            return "acknowledged"
        return "detected"

    @property
    def open(self) -> bool:
        return self.resolved_at is None

    def describe_state(self) -> str:
        if self.disposition is not None:
            kind = self.disposition.get("as")
            return f"duplicate of {self.disposition.get('of')}" if kind == "duplicate" else "false positive"
        if self.state == "resolved" and not self.verified:
            return "resolved, unverified"
        return self.state

    def of_kind(self, *kinds: str) -> list[dict]:
        return [e for e in self.entries if e["kind"] in kinds]

    def notes(self, *kinds: str) -> list[dict]:
        """The notes (or hypotheses, with ``kinds``) the team holds now: none a later one corrected."""
        return [e for e in self.of_kind(*(kinds or NOTES)) if "superseded_by" not in e]

    def numbered(self, number: int) -> dict | None:
        return next((e for e in self.of_kind(*NOTES) if e.get("no") == number), None)

    def first(self, kind: str) -> dict | None:
        found = self.of_kind(kind)
        return found[0] if found else None

    def to_json(self) -> dict:
        return {
            "id": self.id,
            "title": self.title,
            "severity": self.severity,
            "state": self.describe_state(),
            "commander": self.commander,
            "detected_by": self.detected_by,
            "declared_by": self.declared_by,
            "declared_at": self.declared_at,
            "acknowledged_at": self.acknowledged_at,
            "mitigated_at": self.mitigated_at,
            "resolved_at": self.resolved_at,
            "verified": self.verified,
            "drill": self.drill,
            "firing": sorted(self.firing),
            "roles": self.roles,
            "disposition": self.disposition,
            "timeline": self.entries,
        }


def said(item: dict) -> str:
    """An entry's text as the record shows it: a correction says which note it corrects, a corrected note
    by which one."""
    text = item["text"]
    if isinstance((item.get("data") or {}).get("corrects"), int):
        text = f"(corrects #{item['data']['corrects']}) {text}"
    if "superseded_by" in item:
        text += f" (corrected by #{item['superseded_by']})"
    return text


def entry(
    incident: str,
    kind: str,
    text: str,
    data: dict | None = None,
    *,
    source: str = "team",
    actor: str = "",
    links: list[str] | None = None,
    ts: float | None = None,
) -> dict:
    """One timeline entry in TRAINING.md's shape (plus ``incident`` and ``data``)."""
    if kind not in KINDS:
        raise ValueError(f"unknown timeline kind {kind!r}")
    if source not in SOURCES:
        raise ValueError(f"unknown timeline source {source!r}")
    return {
        "ts": round(time.time() if ts is None else ts, 3),
        "incident": incident,
        "source": source,
        "actor": actor,
        "kind": kind,
        "text": text,
        "links": list(links or []),
        "data": dict(data or {}),
    }


class IncidentLog:
    """The incidents of one lab, on its journal store."""

    def __init__(self, store: Store, actor: str = ""):
        self.store = store
        self.actor = actor

    # ---- reading -----------------------------------------------------------------------------
    def entries(self) -> list[dict]:
        found = []
        for line in self.store.read(INCIDENTS).splitlines():
            try:
                item = json.loads(line)
            except ValueError:
                continue  # a torn last line from a crash mid-write is skipped, never fatal
            if isinstance(item, dict) and item.get("kind") in KINDS and isinstance(item.get("incident"), str):
                found.append(item)
        return found

    def all(self) -> list[Incident]:
        """Every incident, oldest first."""
        return fold(self.entries())

    def get(self, incident_id: str | None = None) -> Incident:
        """The incident called ``incident_id`` or, with None, the open one (the latest if several), else
        the latest of all; NoIncident when there is none."""
        found = self.all()
        if incident_id:
            wanted = incident_id.strip().upper()
            wanted = wanted if wanted.startswith("INC-") else f"INC-{wanted}"
            for incident in found:
                if incident.id == wanted:
                    return incident
            known = ", ".join(i.id for i in found[-5:]) or "none yet"
            raise NoIncident(f"no incident {incident_id!r} (latest: {known}); `{command('incident list')}` shows them")
        open_ones = [i for i in found if i.open]
        if open_ones:
            return open_ones[-1]
        if found:
            return found[-1]
        raise NoIncident(
            f"no incident yet: open one from a report with `{command('incident open TITLE')}`, or wait for a page"
        )

    def current(self) -> Incident | None:
        """The open incident, if any (the latest when several are open)."""
        open_ones = [i for i in self.all() if i.open]
        return open_ones[-1] if open_ones else None

    def story_at(self, ts: float) -> Incident | None:
        """The open incident a page or a report at ``ts`` belongs to: the latest open one, unless another
        drill run than its own is being played at ``ts`` (a new drill is a story of its own; a page a
        moment after its own drill ended is still that drill's)."""
        incident = self.current()
        run = DrillJournal(self.store).at(ts)
        if incident is None or (run is not None and incident.drill != run.id):
            return None
        return incident

    # ---- writing -----------------------------------------------------------------------------
    def add(self, item: dict) -> dict:
        self.store.append(INCIDENTS, json.dumps(item, default=str))
        return item

    def write(self, incident: Incident, kind: str, text: str, data: dict | None = None, **kwargs) -> dict:
        """Append one entry to an incident (the callers checked the input); ``kwargs`` as for ``entry``."""
        kwargs.setdefault("actor", self.actor)
        return self.add(entry(incident.id, kind, text, data, **kwargs))

    def declare(
        self,
        title: str,
        severity: str,
        detected_by: str,
        *,
        source: str = "team",
        actor: str | None = None,
        ts: float | None = None,
        report: str = "",
        snapshot: dict | None = None,
    ) -> Incident:
        """Open a new incident; returns it. The number is one more than the highest so far. It is bound
        here, once, to the drill run being played at ``ts`` (chaos.drill.DrillJournal.at), if any."""
        title = " ".join(str(title).split())
        if not title:
            raise BadInput("an incident needs a title: what is wrong, in a few words")
        if detected_by not in DETECTED_BY:
            raise BadInput(f"--detected-by {detected_by!r}: use one of {', '.join(DETECTED_BY)}")
        tier = tiers.normalise(severity)
        ts = time.time() if ts is None else ts
        numbers = [int(i.id.split("-")[1]) for i in self.all()]
        incident_id = f"INC-{max(numbers, default=0) + 1}"
        run = DrillJournal(self.store).at(ts)
        data = {"title": title[:200], "severity": tier, "detected_by": detected_by, "drill": run.id if run else None}
        if report:
            data["report"] = report[:2000]
        if snapshot:
            data["snapshot"] = snapshot
        self.add(
            entry(
                incident_id,
                "declared",
                f"{tier} declared: {title[:200]}" + (f" (reported: {report[:200]})" if report else ""),
                data,
                source=source,
                actor=self.actor if actor is None else actor,
                ts=ts,
            )
        )
        return self.get(incident_id)

    # ---- escalations and overdue updates -----------------------------------------------------
    def settle(self, now: float | None = None) -> list[dict]:
        """Write the escalations and overdue-update flags whose deadline has passed, once each, dated
        at the deadline; returns what was written."""
        now = time.time() if now is None else now
        written = []
        team_rota = rota.load(self.store)
        breaks = {run.id: run.breaks for run in DrillJournal(self.store).runs()}
        for incident in self.all():
            for due in due_entries(incident, now, team_rota, breaks.get(incident.drill or "", [])):
                written.append(self.add(due))
        return written


def breaks_of(store: Store, incident: Incident) -> list[Break]:
    """The breaks of the drill ``incident`` is bound to (none without a drill): its deadlines' clock."""
    run = DrillJournal(store).get(incident.drill)
    return run.breaks if run else []


def fold(entries: list[dict]) -> list[Incident]:
    """Incidents from their timeline entries (in journal order; each incident's entries sorted by time)."""
    incidents: dict[str, Incident] = {}
    for item in entries:
        incident_id, kind, data = item["incident"], item["kind"], item.get("data") or {}
        if kind == "declared":
            if incident_id in incidents:
                continue  # two writers raced for one number: the first declaration keeps it
            incidents[incident_id] = Incident(
                incident_id,
                str(data.get("title", "")),
                str(data.get("severity", "P3")),
                item["ts"],
                str(data.get("detected_by", "user-report")),
                item.get("actor", ""),
                drill=data.get("drill") if isinstance(data.get("drill"), str) else None,
            )
        incident = incidents.get(incident_id)
        if incident is None:
            continue
        incident.entries.append(item)
    for incident in incidents.values():
        incident.entries.sort(key=lambda e: e["ts"])
        _apply(incident)
    return sorted(incidents.values(), key=lambda i: (i.declared_at, int(i.id.split("-")[1])))


def _apply(incident: Incident) -> None:
    """State, severity, commander and times from the entries, in time order."""
    seen_due: set[tuple] = set()
    kept = []
    numbered: dict[int, dict] = {}
    for item in incident.entries:
        kind, data = item["kind"], item.get("data") or {}
        if kind in NOTES:
            item["no"] = len(numbered) + 1
            numbered[item["no"]] = item
            corrected = numbered.get(data.get("corrects")) if isinstance(data.get("corrects"), int) else None
            if corrected is not None and corrected is not item:
                corrected.setdefault("superseded_by", item["no"])
        if kind in ("escalated", "update_overdue"):
            key = (kind, data.get("due_at"))
            if key in seen_due:
                continue  # two readers settled at once: one flag per deadline
            seen_due.add(key)
        kept.append(item)
        if incident.resolved_at is not None and kind not in ("alert_resolved", "note"):
            continue
        if kind == "severity":
            incident.severity = str(data.get("severity", incident.severity))
        elif kind == "commander":
            incident.commander = data.get("commander") or incident.commander
        elif kind == "role" and data.get("role") in ROLES and data.get("name"):
            incident.roles[data["role"]] = str(data["name"])
            if data["role"] == "commander":
                incident.commander = str(data["name"])
        elif kind == "acknowledged":
            if incident.acknowledged_at is None:
                incident.acknowledged_at = item["ts"]
            incident.commander = data.get("commander") or incident.commander or item.get("actor")
        elif kind == "alert_fired":
            incident.firing[str(data.get("alert"))] = data
        elif kind == "alert_resolved":
            incident.firing.pop(str(data.get("alert")), None)
        elif kind in ("mitigated", "verified"):
            if incident.mitigated_at is None:
                incident.mitigated_at = item["ts"]
        elif kind == "resolved":
            incident.resolved_at = item["ts"]
            incident.verified = bool(data.get("verified"))
        elif kind == "disposition" and data.get("as") in DISPOSITIONS:
            incident.disposition = dict(data)
            incident.resolved_at = item["ts"]
    incident.entries = kept
    if incident.commander:
        incident.roles["commander"] = incident.commander


def _escalations(
    incident: Incident, ack_within_s: float, oncall: Rota | None, breaks: list[Break]
) -> list[tuple[float, str, dict]]:
    """(deadline, text, data) of each escalation level: the team's rota's, each naming who it pages, or
    without a rota the one level at the tier's acknowledgment deadline (a break moves it later)."""
    if oncall is None:
        levels = [(ack_within_s, "paged the secondary on-call and the incident-commander rota", {})]
    else:
        levels = []
        for level, after_s, step in oncall.due(ack_within_s):
            who = oncall.who(step, incident.id) or step.notify
            role = "secondary on-call" if step.notify == "secondary" else "incident commander on the rota"
            levels.append((after_s, f"level {level}, paged {who} ({role})", {"level": level, "paged": who}))
    return [
        (
            round(after_play(breaks, incident.declared_at, after_s), 3),
            f"not acknowledged within {after_s / 60:g} min ({incident.severity}): {whom}",
            data,
        )
        for after_s, whom, data in levels
    ]


def due_entries(incident: Incident, now: float, oncall: Rota | None = None, breaks: list[Break] = ()) -> list[dict]:
    """The escalation and overdue-update entries this incident should have by ``now`` and lacks (the
    escalations the team's ``oncall`` rota sets, if it has one). Deadlines run on the drill's clock:
    ``breaks`` (its breaks) move them later."""
    rule = tiers.contract(incident.severity)
    end = min(now, incident.resolved_at or now)
    have = {(e["kind"], (e.get("data") or {}).get("due_at")) for e in incident.entries}
    due: list[dict] = []
    if rule.ack_within_s is not None:
        for deadline, text, data in _escalations(incident, rule.ack_within_s, oncall, breaks):
            acked = incident.acknowledged_at
            if deadline <= end and (acked is None or acked > deadline) and ("escalated", deadline) not in have:
                due.append(
                    entry(
                        incident.id,
                        "escalated",
                        text,
                        {"due_at": deadline, **data},
                        source="lab",
                        actor="lab",
                        ts=deadline,
                    )
                )
    if rule.update_every_s is not None:
        interval = rule.update_every_s
        anchor = incident.declared_at
        updates = [e["ts"] for e in incident.of_kind("status_update")]
        missed = []
        for update in updates:
            while (next_at := after_play(breaks, anchor, interval)) < update:
                anchor = next_at
                missed.append(anchor)
            anchor = max(anchor, update)
        while (next_at := after_play(breaks, anchor, interval)) <= end:
            anchor = next_at
            missed.append(anchor)
        for at in missed:
            at = round(at, 3)
            if ("update_overdue", at) not in have:
                due.append(
                    entry(
                        incident.id,
                        "update_overdue",
                        f"status update overdue: {incident.severity} wants one every {interval / 60:g} min",
                        {"due_at": at},
                        source="lab",
                        actor="lab",
                        ts=at,
                    )
                )
    return due
