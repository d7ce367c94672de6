"""Mystery drills: a scenario drawn at random and hidden from every trainee view until it is over.

What stays hidden while one is secret: the scenario's id and title (trainees get a story told from
the symptom, shared with other drills), the faults (``fault list``, the agents' log lines, the audit
log), the hints' numbering against the catalogue, and the change feed's "config change (…)" lines
(the feed shows the drill's trigger as the deploy a team would see).

A mystery stays secret until an instructor reveals it (``scenario reveal``), someone ends it
(``scenario stop``, ``reset``), or an incident bound to it is resolved. Its time limit ends its faults
and its traffic, not its secrecy: a team still working the incident must not be handed the answer by
the clock. Whether a run is secret is read from the board alone (the drill journal and the
incidents), so every trainee view can tell, even one that may not read the answer key.

Text the lab wrote passes through ``redact`` before a trainee sees it, by meaning rather than by
word: the controller writes a fault's kind into the note of the deploy a fault makes ("config change
(deadlock)") and a fix's note names the scenario, and those notes, and scenario ids and fault kinds
written as identifiers, become an ellipsis. Plain words stay ("checkout error rate up"), and the
team's own words (its notes, answers, the title it gave) are never rewritten.
"""

from __future__ import annotations

import functools
import json
import random
import re

from chaoslab import command
from chaoslab.chaos.drill import DrillJournal, Run
from chaoslab.chaos.faults import KINDS
from chaoslab.chaos.journal import AUDIT, SCENARIO, AuditLog, Store, change_note
from chaoslab.chaos.scenarios import DIFFICULTIES, catalogue, ids, mystery_story
from chaoslab.errors import BadInput, Refused
from chaoslab.incident.record import IncidentLog


def draw(difficulty: str | None = None, seed: int | None = None, drills: list | None = None):
    """A scenario from ``drills`` (the catalogue), at ``difficulty`` if given; ``seed`` makes the draw repeatable."""
    if difficulty is not None and difficulty not in DIFFICULTIES:
        raise BadInput(f"--difficulty {difficulty!r}: use one of {', '.join(DIFFICULTIES)}")
    pool = [s for s in drills or catalogue() if difficulty is None or s.difficulty == difficulty]
    chooser = random.Random(seed) if seed is not None else random.SystemRandom()
    return chooser.choice(pool)


def story(scenario, seed: int | None = None) -> str:
    """The story a mystery run of ``scenario`` is told with: one of its kind's (chaos/stories.yaml,
    shared by several drills), drawn with the same seed as the drill."""
    chooser = random.Random(f"story-{seed}") if seed is not None else random.SystemRandom()
    return mystery_story(scenario, chooser)


def secret(store: Store, run: Run | None) -> bool:
    """Whether ``run`` is a mystery still being played: not revealed, not stopped or reset, and no
    incident bound to it resolved yet (its time limit does not end it)."""
    if run is None or not run.mystery or run.revealed_at is not None or run.stopped_at is not None:
        return False
    return not any(i.drill == run.id and not i.open for i in IncidentLog(store).all())


def hidden(store: Store, reveal: bool = False) -> bool:
    """Whether a trainee view must hide the drill now (``reveal``: an instructor asked to see it)."""
    return not reveal and secret(store, DrillJournal(store).latest())


def refuse_if_hidden(store: Store, reveal: bool, what: str) -> None:
    """Refused (exit 1) naming ``what`` when a mystery is secret and --reveal was not given."""
    if hidden(store, reveal):
        raise Refused(
            f"{what} is hidden in a mystery drill (instructors: add --reveal; `{command('scenario reveal')}` ends "
            "the mystery for everyone)"
        )


def refuse_new_drill_while_secret(store: Store) -> None:
    """A new drill would bury a mystery whose incident is still being worked: refused until it is over."""
    latest = DrillJournal(store).latest()
    if secret(store, latest) and not latest.running():
        raise Refused(
            "the last mystery drill ended by its time limit and is still secret (its incident is open or was "
            f"never opened): resolve its incident, or `{command('scenario reveal')}` or "
            f"`{command('scenario stop')}` it first"
        )


def reveal(store: Store, actor: str) -> dict:
    """End the mystery of the last drill for everyone (running, or ended by its time limit and still
    secret); returns its scenario note."""
    try:
        note = json.loads(store.read(SCENARIO) or "null")
    except ValueError:
        note = None
    if not note:
        raise Refused("no drill to reveal: none is running, and the last one was stopped (which revealed it)")
    if not note.get("mystery"):
        raise Refused(f"the last drill ({note['id']}) is no mystery: `{command('scenario status')}` names it")
    if not note.get("revealed"):
        gone = Refused("the drill was stopped meanwhile, which revealed it")

        def revealed(current: dict) -> None:
            if current.get("run") != note.get("run"):
                raise gone
            current["revealed"] = True

        if change_note(store, SCENARIO, revealed) is None:
            raise gone
        AuditLog(store, AUDIT).append("scenario.revealed", scenario=note["id"], run=note.get("run"), actor=actor)
        if note.get("run"):
            DrillJournal(store).revealed(note["run"])
    return note


# ---- what a trainee may read ---------------------------------------------------------------------
HIDDEN = "…"


@functools.cache
def _notes() -> tuple[tuple[re.Pattern, str], ...]:
    """What the controller writes in its own notes of a change: a fault's deploy names its kind ("config
    change (deadlock)"), a fix's its id and the scenario's ("fix async-lookup for deadlock"). Matched in
    those shapes only, with a scenario id after "for": a team's "fix rounding for now" is its own."""
    drills = "|".join(map(re.escape, sorted(ids(), key=len, reverse=True)))
    return (
        (re.compile(r"config change \([^()]*\)"), f"config change ({HIDDEN})"),
        (re.compile(rf"\bfix \S+ for (?:{drills})(?![\w-])"), f"fix {HIDDEN} for {HIDDEN}"),
    )


@functools.cache
def secret_words() -> frozenset[str]:
    """What names a drill wherever the lab writes it: every scenario id and fault kind written as an
    identifier (``bad_deploy``, ``latency-500ms``). A plain word that is also a kind or an id (error,
    latency, deadlock) is not one: "checkout error rate up" names no drill, and a title is the symptom
    in plain words, which the trainees are told anyway."""
    return frozenset(w for w in (*KINDS, *ids()) if re.search(r"[\W_\d]", w))


@functools.cache
def _pattern() -> re.Pattern:
    words = sorted(secret_words(), key=len, reverse=True)
    return re.compile(r"(?<![\w-])(" + "|".join(map(re.escape, words)) + r")(?![\w-])", re.IGNORECASE)


def redact(text: str) -> str:
    """``text`` the lab wrote, with what names the drill replaced by an ellipsis: the controller's notes
    (``_notes``) and the ``secret_words``. Not for a team's own words in the record: a trainee view shows
    the team what it wrote, whatever it names. (The change feed mixes the controller's notes with the
    team's deploy notes and goes through whole, which is why the notes are matched by their shapes.)"""
    for pattern, replacement in _notes():
        text = pattern.sub(replacement, text)
    return _pattern().sub(HIDDEN, text)
