"""What the incident record tells people as it happens: pages, escalations, overdue updates and state
changes, read back from the timeline.

Both targets write every page to the same record (``chaoslab.incident.alerting``), so following the
record is how a notice reaches people on either one: ``chaoslab incident watch`` prints each notice
as it is written (with a terminal bell for what needs a person), the lab daemon posts each to
``CHAOSLAB_PAGE_WEBHOOK`` (``chaoslab.incident.webhook``), and the console polls ``/console/notices``
for its toasts and, once its user allows them, desktop notifications. Escalations and overdue
updates are written when someone reads the record (``IncidentLog.settle``), so a follower settles before it
reads: a P1 nobody acknowledged escalates on the watch at its deadline even when nobody else looks.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from chaoslab.chaos.journal import Store
from chaoslab.incident import rota
from chaoslab.incident.record import Incident, IncidentLog, fold

NOTICES = {
    "declared": "page",
    "alert_fired": "alert",
    "alert_resolved": "alert",
    "escalated": "escalation",
    "update_overdue": "overdue",
    "acknowledged": "state",
    "commander": "state",
    "role": "state",
    "severity": "state",
    "mitigated": "state",
    "verified": "state",
    "resolved": "state",
    "disposition": "state",
}
"""Which timeline entries are notices, and of what sort; the rest (notes, triage, hypotheses) are the
team's own words, which the team already knows. An alert a firing cause inhibits (its entry says so)
is no notice: the cause paged the same people for the same outage."""
RINGS = ("page", "escalation", "overdue")
"""The sorts that need a person now: the watch rings the terminal bell for them."""


@dataclass(frozen=True)
class Notice:
    """One timeline entry worth telling, with its incident as the record stood when it was read."""

    sort: str
    entry: dict
    incident: Incident
    paged: str = ""
    """Who it reaches by name, from the team's on-call rota: the primary for a page, the level's person
    for an escalation (empty: no rota says)."""

    @property
    def rings(self) -> bool:
        return self.sort in RINGS

    def line(self) -> str:
        """One line for a terminal: when, what sort, which incident, what happened."""
        clock = time.strftime("%H:%M:%S", time.localtime(self.entry["ts"]))
        what = self.entry["text"].splitlines()[0] if self.entry["text"] else self.entry["kind"]
        if self.sort == "page":
            what = f"{self.incident.severity} {self.incident.title} (declared by {self.entry.get('actor') or '-'})"
            what += f", paging {self.paged} (primary)" if self.paged else ""
        return f"{clock}  {self.sort.upper():<10} {self.incident.id:<6} {what}"

    def to_json(self) -> dict:
        return {
            "sort": self.sort,
            "ts": self.entry["ts"],
            "incident": self.incident.id,
            "severity": self.incident.severity,
            "state": self.incident.describe_state(),
            "title": self.incident.title,
            "kind": self.entry["kind"],
            "text": self.entry["text"],
            "actor": self.entry.get("actor", ""),
            "paged": self.paged,
        }


class Follower:
    """The notices written to a lab's record since the last ``poll``, the first time since the follower
    was made (with ``replay``: every notice the record already holds comes first)."""

    def __init__(self, store: Store, actor: str = "", replay: bool = False):
        self.log = IncidentLog(store, actor)
        self.seen = 0 if replay else len(self.log.entries())

    def poll(self) -> list[Notice]:
        self.seen, found = since(self.log, self.seen)
        return found


def since(log: IncidentLog, seen: int | None, settle: bool = True) -> tuple[int, list[Notice]]:
    """(the record's length, the notices written after its first ``seen`` entries): settled first, so
    an escalation due now is among them (``settle`` False: a reader that may not write the record, the
    platform's console, which shows an escalation once a team command or a page has settled it).
    ``seen`` None: no notice, only where the
    record ends (a reader that starts now, like the console's first look)."""
    if settle:
        log.settle()
    entries = log.entries()
    start = len(entries) if seen is None else min(max(seen, 0), len(entries))
    fresh = [e for e in entries[start:] if e["kind"] in NOTICES and not (e.get("data") or {}).get("inhibited_by")]
    if not fresh:
        return len(entries), []
    incidents = {i.id: i for i in fold(entries)}
    kept = {id(e) for i in incidents.values() for e in i.entries}  # fold drops a deadline settled twice
    primary = getattr(rota.load(log.store), "primary", "")
    return len(entries), [
        Notice(NOTICES[e["kind"]], e, incidents[e["incident"]], _paged(e, primary)) for e in fresh if id(e) in kept
    ]


def _paged(entry: dict, primary: str) -> str:
    if entry["kind"] == "declared":
        return primary
    return str((entry.get("data") or {}).get("paged", "")) if entry["kind"] == "escalated" else ""
