"""The 5-question drill (TRAINING.md): WHAT fired, WHEN did the impact start, SCOPE, RECENT CHANGE, OWNER.

Four of the five come from dashboards and the change feed, and the lab knows all five answers, so it
grades them (``answer_key``): WHAT against the drill's primary alert or any paging alert its faults set
off, WHEN within ±2 min of the first fault, SCOPE against one measured figure (the share of the
affected journey's requests that failed or were too slow since the impact started,
chaoslab.incident.impact): a percentage within ±10 points of it, a word (all / partial / none) whose
band comes within 10 points of it; RECENT CHANGE against the feed entry that set the drill off (or
none), OWNER against the team of any real fault's service or the owner a paging alert named.

Only a question's first answer counts, and only it gets right or wrong at once: later ones are
recorded and graded when the drill is no longer secret, so that asking again cannot find the answer.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from chaoslab import command
from chaoslab.errors import BadInput
from chaoslab.incident.truth import is_graded
from chaoslab.topology import COMPONENTS, DEPENDENCIES

QUESTIONS = ("what", "when", "scope", "change", "owner")


def prompt(question: str) -> str:
    """The question as the drill asks it, with what a valid answer looks like."""
    return {
        "what": "WHAT fired? (the alert's name, or none)",
        "when": "WHEN did the impact start? (HH:MM, HH:MM:SS, an ISO time, or e.g. 5m ago)",
        "scope": "SCOPE: share of the hurt journey's requests (checkouts, orders, charges) that failed or were too "
        "slow? (a percentage, or all / partial / none)",
        "change": f"RECENT CHANGE? (a change id from `{command('changes')}`, or none)",
        "owner": "OWNER: which team owns it? (" + ", ".join(sorted({c.owner for c in COMPONENTS})) + ")",
    }[question]


WHEN_TOLERANCE_S = 120.0
SCOPE_TOLERANCE = 0.10
ALL_AT, NONE_AT = 0.90, 0.10
WORD_BANDS = {"none": (0.0, NONE_AT), "partial": (NONE_AT, ALL_AT), "all": (ALL_AT, 1.0)}
PAGING = ("P1", "P2")
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
        raise BadInput(f"{question}: empty answer; {prompt(question)}")
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
    """Mark ``answer`` right or wrong against ``key`` (see ``answer_key``; a question absent from it is
    not graded, and ``key[question + "_note"]`` says why). The note never tells the truth."""
    truth = key.get(answer.question)
    if truth is None:
        answer.correct, answer.note = (
            None,
            key.get(f"{answer.question}_note", "recorded; the answer key is not readable"),
        )
        return answer
    if answer.question == "when":
        answer.correct = abs(float(answer.value) - float(truth)) <= WHEN_TOLERANCE_S
        answer.note = "right (within 2 min)" if answer.correct else "wrong: more than 2 min off"
        return answer
    if answer.question == "scope":
        answer.correct = scope_right(answer.value, float(truth))
        answer.note = "right" if answer.correct else "wrong: more than 10 points from the measured share"
        return answer
    accepted = (
        {str(v).lower() for v in truth} if isinstance(truth, (set, frozenset, list, tuple)) else {str(truth).lower()}
    )
    answer.correct = str(answer.value).lower() in accepted
    answer.note = "right" if answer.correct else "wrong"
    return answer


def scope_right(given: float | str, measured: float) -> bool:
    """A share within 10 points of the measured one; a word whose band (none ≤ 10 %, all ≥ 90 %, partial
    between) comes within 10 points of it: the word and the number are judged against the same figure."""
    if not isinstance(given, str):
        return abs(given - measured) <= SCOPE_TOLERANCE
    low, high = WORD_BANDS[given]
    if given == "partial":  # strictly between the other two bands
        return low - SCOPE_TOLERANCE < measured < high + SCOPE_TOLERANCE
    return low - SCOPE_TOLERANCE <= measured <= high + SCOPE_TOLERANCE


def answer_key(truth, fired: list[dict], scope_share: float | None, scope_note: str = "") -> dict:
    """Question → what is accepted, for an incident graded against its drill (``truth``: a Truth, else
    nothing is graded); ``fired``: the alerts that fired on the lab from the drill's first fault to the
    answer (chaoslab.incident.alerting.fired); ``scope_share``: the affected share measured so far.

    WHAT: the drill's primary alert, or any paging alert its faults set off: the one that paged and
    titled the incident is always right, and so is one that fired before a report opened it. ``none``
    only when nothing fired at all. OWNER: the team of any real fault's service, or the owner a paging
    alert named. SCOPE: the measured share."""
    if not is_graded(truth):
        note = getattr(truth, "reason", "") or "no drill was running when it was declared: nothing to grade against"
        return {f"{q}_note": f"recorded, not graded ({note})" for q in QUESTIONS}
    paging = [e for e in fired if e.get("severity") in PAGING]
    what = {truth.alert} | {str(a.get("alert")) for a in paging}
    if not fired:
        what.add("none")
    key: dict = {
        "what": what,
        "when": truth.started_at,
        "change": truth.trigger_change or "none",
        "owner": truth.owners | {str(a["owner"]) for a in paging if a.get("owner")},
    }
    if scope_share is None:
        key["scope_note"] = f"recorded, not graded ({scope_note or 'the share could not be measured'})"
    else:
        key["scope"] = scope_share
    return key
