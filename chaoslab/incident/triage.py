"""The 5-question drill (TRAINING.md): WHAT fired, WHEN did the impact start, SCOPE, RECENT CHANGE, OWNER.

Four of the five come from dashboards and the change feed, and the lab knows all five answers, so it
grades them: WHAT against the drill's primary alert (or the first paging alert of the incident),
WHEN within ±2 min of the first fault, SCOPE in words (all / partial / none) against the drill's
declared scope, and as a percentage within ±10 points of the measured share of checkouts that failed
or took over a second since then (or inside the declared word's band: none ≤ 10 %, all ≥ 90 %),
RECENT CHANGE against the feed entry that set the drill off (or none), OWNER against the team owning
the root cause's service.
Only a question's first answer counts for the score; later ones are recorded and graded too.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from chaoslab import command
from chaoslab.errors import BadInput
from chaoslab.topology import COMPONENTS, DEPENDENCIES

QUESTIONS = ("what", "when", "scope", "change", "owner")
PROMPTS = {
    "what": "WHAT fired? (the alert's name, or none)",
    "when": "WHEN did the impact start? (HH:MM, HH:MM:SS, an ISO time, or e.g. 5m ago)",
    "scope": "SCOPE: share of checkouts affected? (a percentage, or all / partial / none)",
    "change": "RECENT CHANGE? (a change id from `chaoslab changes`, or none)",
    "owner": "OWNER: which team owns it? (" + ", ".join(sorted({c.owner for c in COMPONENTS})) + ")",
}
WHEN_TOLERANCE_S = 120.0
SCOPE_TOLERANCE = 0.10
ALL_AT, NONE_AT = 0.90, 0.10
TEAMS = tuple(sorted({c.owner for c in COMPONENTS} | {d.owner for d in DEPENDENCIES}))


@dataclass
class Answer:
    question: str
    given: str
    value: object
    """The parsed answer: a name, an epoch second, a share or a word, a change id, a team."""
    correct: bool | None = None
    """None: not graded (the answer key could not be read, or cannot be measured now)."""
    note: str = ""


def parse(question: str, raw: str, now: float | None = None, change_ids: set[str] | None = None) -> Answer:
    """One answer, parsed and checked for form; BadInput (exit 2) saying what a valid answer looks like."""
    text = " ".join(str(raw).split())
    if not text:
        raise BadInput(f"{question}: empty answer; {PROMPTS[question]}")
    if question == "what":
        if text.lower() == "none":
            return Answer(question, text, "none")
        if not re.fullmatch(r"[A-Za-z][A-Za-z0-9_:]{1,80}", text):
            raise BadInput(f"what: {text!r} is not an alert name (letters and digits, e.g. CheckoutLatencyFastBurn)")
        return Answer(question, text, text)
    if question == "when":
        return Answer(question, text, parse_time(text, now))
    if question == "scope":
        return Answer(question, text, parse_scope(text))
    if question == "change":
        if text.lower() == "none":
            return Answer(question, text, "none")
        wanted = text.lower()
        if change_ids is not None and wanted not in change_ids:
            raise BadInput(f"change: no change {text!r} in the feed; `{command('changes --since 1d')}` lists their ids")
        return Answer(question, text, wanted)
    if question == "owner":
        team = text.lower()
        if team not in TEAMS:
            raise BadInput(f"owner: {text!r} is not a team; the teams are {', '.join(TEAMS)}")
        return Answer(question, text, team)
    raise BadInput(f"unknown triage question {question!r}; the questions are {', '.join(QUESTIONS)}")


def parse_time(text: str, now: float | None = None) -> float:
    """``14:05``, ``14:05:30`` (today, or yesterday if that is in the future), an ISO 8601 time,
    ``5m ago`` / ``90s ago`` / ``1h ago``, or seconds since the epoch."""
    now = time.time() if now is None else now
    lowered = text.lower().strip()
    ago = re.fullmatch(r"(\d+(?:\.\d+)?)\s*(s|sec|m|min|h)\w*\s+ago", lowered)
    if ago:
        unit = {"s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600}[ago.group(2)]
        return now - float(ago.group(1)) * unit
    clock = re.fullmatch(r"(\d{1,2}):(\d{2})(?::(\d{2}))?", lowered)
    if clock:
        hour, minute, second = int(clock.group(1)), int(clock.group(2)), int(clock.group(3) or 0)
        if hour > 23 or minute > 59 or second > 59:
            raise BadInput(f"when: {text!r} is not a time of day")
        today = datetime.fromtimestamp(now).replace(hour=hour, minute=minute, second=second, microsecond=0)
        if today.timestamp() > now + 60:
            today -= timedelta(days=1)
        return today.timestamp()
    if re.fullmatch(r"\d{9,11}(\.\d+)?", lowered):
        return float(lowered)
    try:
        return datetime.fromisoformat(text.strip()).timestamp()
    except ValueError:
        raise BadInput(f"when: {text!r} is not a time; write 14:05, 14:05:30, 2025-01-31T14:05, or 5m ago") from None


def parse_scope(text: str) -> float | str:
    lowered = text.lower().strip()
    if lowered in ("all", "partial", "none"):
        return lowered
    number = re.fullmatch(r"(\d+(?:\.\d+)?)\s*%?", lowered)
    if not number or float(number.group(1)) > 100:
        raise BadInput(f"scope: {text!r}: give a percentage from 0 to 100 (e.g. 40 or 40%), or all, partial, none")
    return float(number.group(1)) / 100


def scope_word(share: float) -> str:
    if share >= ALL_AT:
        return "all"
    if share <= NONE_AT:
        return "none"
    return "partial"


def grade(answer: Answer, key: dict) -> Answer:
    """Mark ``answer`` right or wrong against ``key`` (question → true value, or absent when unknown;
    ``key["scope_note"]`` says why SCOPE could not be measured). The note never tells the truth."""
    truth = key.get(answer.question)
    if answer.question == "scope" and key.get("scope_word") is not None:
        return _grade_scope(answer, truth, key["scope_word"])
    if truth is None:
        answer.correct, answer.note = (
            None,
            key.get(f"{answer.question}_note", "recorded; the answer key is not readable"),
        )
        return answer
    if answer.question == "when":
        answer.correct = abs(float(answer.value) - float(truth)) <= WHEN_TOLERANCE_S
        answer.note = "right (within 2 min)" if answer.correct else "wrong: more than 2 min off"
    elif answer.question == "scope":
        if isinstance(answer.value, str):
            answer.correct = answer.value == scope_word(float(truth))
        else:
            answer.correct = abs(float(answer.value) - float(truth)) <= SCOPE_TOLERANCE
        answer.note = "right" if answer.correct else "wrong: the measured share is more than 10 points away"
    elif answer.question == "what":
        answer.correct = str(answer.value).lower() == str(truth).lower()
        answer.note = "right" if answer.correct else "wrong"
    else:
        answer.correct = str(answer.value).lower() == str(truth).lower()
        answer.note = "right" if answer.correct else "wrong"
    return answer


def answer_key(incident, truth, scope_share: float | None, scope_note: str = "") -> dict:
    """Question → true value for one incident, from the drill's truth (None: no key readable) and the
    measured share of checkouts affected since the impact started."""
    if truth is None or not hasattr(truth, "scenario"):
        note = getattr(truth, "reason", "") or "no drill was running: nothing to grade against"
        return {f"{q}_note": f"recorded, not graded ({note})" for q in QUESTIONS}
    paging = [
        e
        for e in incident.of_kind("alert_fired")
        if e["data"].get("severity") in ("P1", "P2") and e["ts"] >= truth.started_at - 60
    ]
    key: dict = {
        "what": truth.alert or (paging[0]["data"]["alert"] if paging else "none"),
        "when": truth.started_at,
        "change": truth.trigger_change or "none",
        "owner": truth.owner,
    }
    key["scope_word"] = truth.scenario.scope
    if scope_share is None:
        key["scope_note"] = f"recorded, not graded ({scope_note or 'the share could not be measured'})"
    else:
        key["scope"] = scope_share
    return key


def _grade_scope(answer: Answer, measured: float | None, declared: str) -> Answer:
    if isinstance(answer.value, str):
        answer.correct = answer.value == declared
    else:
        near = measured is not None and abs(float(answer.value) - measured) <= SCOPE_TOLERANCE
        answer.correct = near or scope_word(float(answer.value)) == declared
    answer.note = "right" if answer.correct else "wrong: neither the measured share nor the drill's scope"
    return answer
