"""The incident as a trainee may read it on the console: what `chaoslab incident show` (without --reveal)
and `chaoslab triage` print to a trainee, as one JSON document, for any source's journal store.

Read with the incident module's own reader (``IncidentLog``); nothing is written: the escalations and
overdue-update flags a command would settle are added to the view as they would be written (same
entries, dated at their deadlines), so a read-only viewer (the cluster's console) shows the same
record. While a mystery drill is played (``chaoslab.incident.mystery.hidden``) the text the lab wrote
passes through ``redact``; the team's own words (its notes, answers, the title it gave) are shown as
it wrote them: they name nothing it does not already know.
"""

from __future__ import annotations

import time

from chaoslab.chaos.journal import Store
from chaoslab.incident.actions import Actions
from chaoslab.incident.desk import instructor_score as measure
from chaoslab.incident.mystery import hidden, redact
from chaoslab.incident.record import Incident, IncidentLog, NoIncident, breaks_of, due_entries, said
from chaoslab.incident.severity import contract
from chaoslab.incident.triage import QUESTIONS

TIMELINE_FIELDS = ("ts", "source", "actor", "kind", "text", "links")
"""What a timeline entry shows; ``data`` (counters, alert labels) stays in `incident show --json`."""


def trainee_view(store: Store, now: float | None = None) -> dict | None:
    """The open incident (the latest one when none is open, as `incident show` picks it) with its
    timeline, its overdue status update, the team's triage answers and the team's open action items
    (from every drill: what the last review asked for); None: no incident yet."""
    now = time.time() if now is None else now
    try:
        incident = IncidentLog(store).get()
    except NoIncident:
        return None
    mystery = hidden(store)

    def shown(text: str, source: str = "lab") -> str:
        """What the lab wrote, redacted in a mystery; the team's own words as it wrote them."""
        return redact(text) if mystery and source != "team" else text

    due = due_entries(incident, now, breaks=breaks_of(store, incident))
    entries = sorted(incident.entries + due, key=lambda e: e["ts"])
    view = {k: v for k, v in incident.to_json().items() if k != "timeline"}
    view |= {
        "title": shown(incident.title, "lab" if incident.detected_by == "alerting" else "team"),
        "mystery": mystery,
        "timeline": [
            {
                **{k: e.get(k) for k in TIMELINE_FIELDS},
                "text": shown(said(e), e.get("source", "lab")),
                "links": [shown(str(link), e.get("source", "lab")) for link in e.get("links") or []],
            }
            for e in entries
        ],
        "overdue": overdue(incident, entries),
        "answers": answers(incident),
        "actions": [
            {k: item.to_json()[k] for k in ("id", "text", "owner", "due", "incident")}
            for item in Actions(store).open_items()
        ],
    }
    return view


def instructor_score(store: Store) -> dict | None:
    """The latest incident's score as the instructor sees it (graded, the shadow's time shown; never
    shown to trainees), with the incident's id, title, severity and state; None: no incident yet."""
    try:
        incident = IncidentLog(store).get()
    except NoIncident:
        return None
    measured = measure(store, incident).to_json()
    return measured | {"title": incident.title, "severity": incident.severity, "state": incident.state}


def overdue(incident: Incident, entries: list[dict]) -> dict | None:
    """Since when an open incident's status update is overdue (its first missed deadline after the last
    update), with the tier's interval; None when it is not."""
    if not incident.open:
        return None
    updates = [e["ts"] for e in entries if e["kind"] == "status_update"]
    last = max(updates, default=incident.declared_at)
    missed = [e["ts"] for e in entries if e["kind"] == "update_overdue" and e["ts"] > last]
    if not missed:
        return None
    return {"since": min(missed), "every_s": contract(incident.severity).update_every_s}


def answers(incident: Incident) -> dict[str, dict]:
    """Each answered triage question's latest answer (given, when, graded right/wrong or None when not
    graded) and how many times it was answered; the first answer is the one the score counts."""
    found: dict[str, dict] = {}
    for item in incident.of_kind("triage_answer"):
        data = item.get("data") or {}
        question = data.get("question")
        if question not in QUESTIONS:
            continue
        count = found.get(question, {}).get("answers", 0) + 1
        found[question] = {
            "given": str(data.get("given", "")),
            "value": data.get("value") if question == "when" else None,
            "correct": data.get("correct"),
            "ts": item["ts"],
            "answers": count,
        }
    return found
