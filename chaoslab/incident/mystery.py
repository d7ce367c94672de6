"""Mystery drills: a scenario drawn at random and hidden from every trainee view until it is revealed.

What stays hidden while one runs: the scenario's id and title (only its story is shown), the faults
(``fault list``, the agents' log lines, the audit log), the hints' numbering against the catalogue, and
the change feed's "config change (…)" lines (the feed shows the drill's trigger as the deploy a team
would see). The instructor's views (``--reveal``, ``scenario show --spoilers``, ``audit --reveal``) show
everything; ``scenario reveal`` ends the secrecy for everyone, ``scenario stop`` does too.
"""

from __future__ import annotations

import json
import random
import time

from chaoslab import command
from chaoslab.chaos.journal import AuditLog, Store
from chaoslab.errors import BadInput, Refused
from chaoslab.incident.truth import AUDIT, SCENARIO, running_mystery


def draw(difficulty: str | None = None, seed: int | None = None, drills: list | None = None):
    """A scenario from ``drills`` (the catalogue), at ``difficulty`` if given; ``seed`` makes the draw repeatable."""
    from chaoslab.chaos.scenarios import DIFFICULTIES, catalogue

    if difficulty is not None and difficulty not in DIFFICULTIES:
        raise BadInput(f"--difficulty {difficulty!r}: use one of {', '.join(DIFFICULTIES)}")
    pool = [s for s in drills or catalogue() if difficulty is None or s.difficulty == difficulty]
    chooser = random.Random(seed) if seed is not None else random.SystemRandom()
    return chooser.choice(pool)


def hidden(store: Store, reveal: bool = False) -> bool:
    """Whether a trainee view must hide the drill now (``reveal``: the instructor asked to see it)."""
    return not reveal and running_mystery(store)


def refuse_if_hidden(store: Store, reveal: bool, what: str) -> None:
    """Refused (exit 1) naming ``what`` when a mystery is being played and --reveal was not given."""
    if hidden(store, reveal):
        raise Refused(
            f"{what} is hidden in a mystery drill (instructors: add --reveal; `{command('scenario reveal')}` ends "
            "the mystery for everyone)"
        )


def reveal(store: Store, actor: str) -> dict:
    """End the mystery of the running drill for everyone; returns its scenario note."""
    try:
        note = json.loads(store.read(SCENARIO) or "null")
    except ValueError:
        note = None
    if not note or note.get("expires_at", 0) <= time.time():
        raise Refused("no drill is running to reveal")
    if not note.get("mystery"):
        raise Refused(f"the running drill ({note['id']}) is no mystery: `{command('scenario status')}` names it")
    if not note.get("revealed"):
        note["revealed"] = True
        store.write(SCENARIO, json.dumps(note))
        AuditLog(store, AUDIT).append("scenario.revealed", scenario=note["id"], actor=actor)
    return note
